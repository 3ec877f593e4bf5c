"""Fault runs: load and faults against a real deployment on loopback, then a count.

    .venv/bin/python bench/faults.py                 # every run
    .venv/bin/python bench/faults.py worker-kill     # some of them
    .venv/bin/python bench/faults.py --quick         # shorter and smaller

Each run starts what it needs itself (PostgreSQL and Redis servers of its own on
loopback ports, gunicorn, `manage.py qcluster`, a fake Mixpanel), provisions
organisations with a Shopify shop and a Mixpanel project, sends signed webhooks the way
Shopify does (no answer or a 5xx: the same webhook again, same webhook id), causes its
fault, waits (bounded) for the outbox to drain, and ends with

    sent=.. stored=.. delivered=.. duplicates=.. lost=..

sent: distinct purchases sent; stored: purchase rows; delivered: distinct `$insert_id`s
the fake Mixpanel accepted; duplicates: events it accepted more than once (Mixpanel
drops them by `$insert_id`); lost: purchases that were accepted but not stored, or
stored but never delivered. The script exits non-zero if any run lost a purchase or
failed its own check (a 5xx under plain load, fairness over 5 s, a duplicate between
two clusters).

No retry timing is compressed: the product's own numbers apply (first retry after
about 2 s, doubling; a lease outlives the queue's 60 s task timeout by 30 s).
"""

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # noqa: E402
from harness import (  # noqa: E402
    Postgres,
    RedisServer,
    Workspace,
    django_setup,
    gunicorn,
    log,
    machine_line,
    migrate,
    port_open,
    product_env,
    qcluster,
    wait_until,
)

PORTS = {"web": 18780, "receiver": 18782, "postgres": 18788, "redis": 18789}
REDIS_DB = 8
# How long a run waits for the outbox to drain after its fault.
DRAIN_SECONDS = 300
FAIRNESS_LIMIT_SECONDS = 5.0


@dataclass
class Outcome:
    name: str
    sent: int = 0
    stored: int = 0
    delivered: int = 0
    duplicates: int = 0
    lost: int = 0
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    crashed: bool = False

    def line(self) -> str:
        if self.crashed:
            return "no figures: the run itself failed (see the log above)"
        return (
            f"sent={self.sent} stored={self.stored} delivered={self.delivered} "
            f"duplicates={self.duplicates} lost={self.lost}"
        )

    @property
    def passed(self) -> bool:
        return self.lost == 0 and not self.failures


class Stage:
    """One run's deployment: database, maybe Redis, web, workers, fake Mixpanel."""

    def __init__(self, workspace: Workspace, pg: Postgres, redis: RedisServer | None, name: str):
        from receiver import Receiver

        self.workspace = workspace
        self.pg = pg
        self.redis = redis
        self.name = name
        self.database = name.replace("-", "_")
        self.receiver = Receiver(PORTS["receiver"]).start()
        self.receiver_url = f"http://127.0.0.1:{PORTS['receiver']}"
        url = pg.create_database(self.database)
        self.env = product_env(
            database_url=url,
            data_dir=workspace.path,
            redis_url=redis.url(REDIS_DB) if redis else None,
            custom_hosts=self.receiver_url,
        )
        migrate(self.env)
        self._settings()
        self.orgs = []
        self.services = []

    def _settings(self) -> None:
        """This process's settings: this run's database and broker (one run a process)."""
        django_setup(self.env)

    def provision(self, count: int, *, api: bool = False, prefix: str = "shop"):
        from shop import provision

        self.orgs = [
            provision(f"{prefix}{i:02d}", receiver_url=self.receiver_url, api=api)
            for i in range(count)
        ]
        return self.orgs

    def web(self):
        service = gunicorn(self.env, PORTS["web"], self.workspace.logfile(f"{self.name}-web"))
        self.services.append(service)
        return service

    def worker(self, label: str = "worker"):
        service = qcluster(self.env, self.workspace.logfile(f"{self.name}-{label}"), label)
        self.services.append(service)
        return service

    def close(self) -> None:
        from django.db import connections

        for service in self.services:
            service.stop()
        self.receiver.stop()
        if self.redis and self.redis.process:
            self.redis.stop()  # one this run restarted; the parent starts its own again
        connections.close_all()
        self.pg.sql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    # -- accounting --------------------------------------------------------------

    def drain(self, expected: int, timeout: float = DRAIN_SECONDS) -> bool:
        """Until the fake Mixpanel has `expected` events and the database agrees that
        every delivery is delivered (so a late resend is counted too)."""
        from shop import stored_counts

        def settled() -> bool:
            if self.receiver.unique() < expected:
                return False
            states = Counter()
            for counts in stored_counts(self.orgs).values():
                states.update(counts["deliveries"])
            return set(states) == {"delivered"}

        started = time.monotonic()
        drained = wait_until(settled, timeout=timeout, interval=0.5)
        log(
            f"{self.name}: {self.receiver.unique()}/{expected} delivered after "
            f"{time.monotonic() - started:.0f} s of draining"
        )
        return drained

    def account(self, outcome: Outcome, results: list[load.LoadResult]) -> Outcome:
        from shop import orders_of, stored_orders

        sent, accepted = set(), set()
        for result in results:
            for answer in result.answers:
                pairs = orders_of(answer.key)
                sent.update(pairs)
                if 200 <= answer.status < 300:
                    accepted.update(pairs)
        stored, rows = stored_orders(self.orgs)
        tokens = {f"token-{org.slug}": org.slug for org in self.orgs}
        with self.receiver._lock:
            delivered = {(tokens.get(t, t), o) for t, o in self.receiver.by_order}
        outcome.sent = len(sent)
        outcome.stored = rows
        outcome.delivered = len(delivered & stored)
        outcome.duplicates = self.receiver.duplicates()
        outcome.lost = len(accepted - stored) + len(stored - delivered)
        if rows != len(stored):
            outcome.failures.append(f"{rows - len(stored)} purchases stored twice")
        if sent - accepted:
            outcome.notes.append(f"{len(sent - accepted)} webhooks never accepted by the sender")
        return outcome


def sender_streams(orgs, *, start: int = 1, per_org: int | None = None, redelivery_every=0):
    from shop import OrderFactory

    factory = OrderFactory(guest=True)
    return [
        factory.stream(org, start=start, count=per_org, redelivery_every=redelivery_every)
        for org in orgs
    ]


def statuses_note(result: load.LoadResult) -> str:
    seen = ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(result.seen.items()))
    return f"answers seen ({seen}); {result.retried} sent again by the sender"


# -- the runs ------------------------------------------------------------------------


def run_load(stage: Stage, quick: bool) -> Outcome:
    """10 organisations sending at once for 60 s, 1 webhook in 20 sent twice."""
    outcome = Outcome("load")
    seconds = 15 if quick else 60
    orgs = stage.provision(10)
    stage.web()
    stage.worker()
    result = load.run(PORTS["web"], sender_streams(orgs, redelivery_every=20), seconds=seconds)
    stored_first = stage.account(Outcome("probe"), [result]).stored
    stage.drain(stored_first)
    stage.account(outcome, [result])
    server_errors = sum(n for s, n in result.seen.items() if s >= 500 or s == 0)
    if server_errors:
        outcome.failures.append(f"{server_errors} answers were 5xx or none")
    outcome.notes.append(
        f"{len(result.answers)} requests in {result.seconds:.0f} s ({result.rate:.0f}/s), "
        f"redeliveries included; {statuses_note(result)}"
    )
    return outcome


def run_destination_down(stage: Stage, quick: bool) -> Outcome:
    """Mixpanel answers 503 for a stretch while purchases keep coming, then recovers."""
    outcome = Outcome("destination-down")
    down_seconds = 20 if quick else 60
    orgs = stage.provision(2)
    stage.web()
    stage.worker()
    stage.receiver.down = True
    result = load.run(
        PORTS["web"],
        sender_streams(orgs),
        seconds=down_seconds,
        retry=load.no_answer_or_server_error,
    )
    stage.receiver.down = False
    log(f"destination back after {down_seconds} s down")
    recovered_at = time.monotonic()
    stored = stage.account(Outcome("probe"), [result]).stored
    stage.drain(stored)
    outcome.notes.append(
        f"down {down_seconds} s while {stored} purchases arrived; all delivered "
        f"{time.monotonic() - recovered_at:.0f} s after it came back (retries back off "
        f"from 2 s, doubling); {stage.receiver.server.state.requests.__len__()} import "
        "requests in all"
    )
    return stage.account(outcome, [result])


def run_worker_kill(stage: Stage, quick: bool) -> Outcome:
    """SIGKILL to the whole worker cluster while a batch is at Mixpanel, then a restart."""
    outcome = Outcome("worker-kill")
    orgs = stage.provision(2)
    stage.web()
    worker = stage.worker()
    stage.receiver.delay = 3.0  # each import answers late: a batch is surely mid-flight
    with load.background(
        PORTS["web"],
        sender_streams(orgs),
        seconds=20 if quick else 30,
        retry=load.no_answer_or_server_error,
    ) as holder:
        if not wait_until(lambda: stage.receiver.requests_in_progress > 0, timeout=60):
            outcome.failures.append("no batch was ever in flight")
        in_flight = stage.receiver.unique()
        worker.kill()
        log(f"killed the worker cluster (SIGKILL) with a batch in flight ({in_flight} arrived)")
        time.sleep(3)
        stage.receiver.delay = 0.0
        stage.worker("worker-restarted")
    result = holder["result"]
    stored = stage.account(Outcome("probe"), [result]).stored
    stage.drain(stored)
    outcome.notes.append(
        "the killed batch's events had reached Mixpanel without the worker learning it: "
        "they are sent again with the same $insert_id once the lease (90 s) expires, "
        "and Mixpanel keeps one of each"
    )
    return stage.account(outcome, [result])


def _restart_under_load(stage: Stage, quick: bool, outcome: Outcome, what: str, restart):
    """4 shops sending; 10 s in, `restart()` takes a server away for about 3 s."""
    orgs = stage.provision(4)
    stage.web()
    stage.worker()
    with load.background(
        PORTS["web"],
        sender_streams(orgs),
        seconds=30 if quick else 45,
        retry=load.no_answer_or_server_error,
    ) as holder:
        time.sleep(10)
        restart()
        log(f"{what} restarted")
    result = holder["result"]
    stored = stage.account(Outcome("probe"), [result]).stored
    stage.drain(stored)
    outcome.notes.append(f"{what} down about 3 s mid-run; {statuses_note(result)}")
    exited = [s.name for s in stage.services if not s.alive()]
    if exited:
        outcome.notes.append(f"processes that exited: {', '.join(exited)}")
    return stage.account(outcome, [result])


def run_database_restart(stage: Stage, quick: bool) -> Outcome:
    """PostgreSQL stopped at once (immediate: as in a crash) and started again, under load."""

    def restart():
        stage.pg.stop(mode="immediate")
        time.sleep(3)
        stage.pg.start()

    return _restart_under_load(
        stage, quick, Outcome("database-restart"), "PostgreSQL (immediate stop)", restart
    )


def run_redis_restart(stage: Stage, quick: bool) -> Outcome:
    """Redis (broker and cache, nothing persisted) restarted under load: queued tasks and
    markers are gone; the database's outbox and the sweep bring everything out."""
    return _restart_under_load(
        stage,
        quick,
        Outcome("redis-restart"),
        "Redis (its queue lost)",
        lambda: stage.redis.restart(down_seconds=3),
    )


def run_fairness(stage: Stage, quick: bool) -> Outcome:
    """One organisation floods 50,000 purchases; another's one purchase still goes out
    within 5 s."""
    outcome = Outcome("fairness")
    flood = 5_000 if quick else 50_000
    busy, quiet = stage.provision(2, api=True)
    stage.web()
    stage.worker()
    from shop import OrderFactory, api_batches

    streams = [api_batches(busy, start=1 + i * (flood // 4), count=flood // 4) for i in range(4)]
    with load.background(PORTS["web"], streams, retry=load.no_answer_or_server_error) as holder:
        # Wait until the flood is being delivered, then send the quiet shop's purchase.
        wait_until(lambda: stage.receiver.unique() >= 2000, timeout=300)
        backlog = stage.receiver.unique()
        request = OrderFactory(guest=True).request(quiet, 1)
        answer = load.send(PORTS["web"], request)
        arrived = wait_until(
            lambda: stage.receiver.arrival_of(f"token-{quiet.slug}", "1") is not None,
            timeout=60,
            interval=0.01,
        )
        waited = (
            stage.receiver.arrival_of(f"token-{quiet.slug}", "1") - answer.started
            if arrived
            else float("inf")
        )
    result = holder["result"]
    quiet_result = load.LoadResult(answers=[answer])
    stored = stage.account(Outcome("probe"), [result, quiet_result]).stored
    stage.drain(stored, timeout=600)
    outcome.notes.append(
        f"{quiet.slug}'s purchase arrived {waited:.2f} s after its webhook, with "
        f"{backlog:,} of {busy.slug}'s {flood:,} delivered and the rest still coming"
    )
    if waited > FAIRNESS_LIMIT_SECONDS:
        outcome.failures.append(f"the quiet shop waited {waited:.1f} s")
    return stage.account(outcome, [result, quiet_result])


def run_two_clusters(stage: Stage, quick: bool) -> Outcome:
    """Two worker clusters (two machines) on one Redis drain one outbox: every dispatch
    task of a destination queued several times over, so both clusters claim the same
    rows at once. No event may be sent twice."""
    from django_q.tasks import async_task

    from events.tasks import DISPATCH_TASK

    outcome = Outcome("two-clusters")
    count = 4_000 if quick else 20_000
    orgs = stage.provision(4, api=True)
    stage.web()
    from shop import api_batches

    per = count // len(orgs)
    result = load.run(
        PORTS["web"],
        [api_batches(org, start=1, count=per) for org in orgs],
        retry=load.no_answer_or_server_error,
    )
    first = stage.worker("cluster-a")
    second = stage.worker("cluster-b")
    for _ in range(6):
        for org in orgs:
            async_task(DISPATCH_TASK, org.schema_name, org.mixpanel_id)
    stored = stage.account(Outcome("probe"), [result]).stored
    stage.drain(stored)
    for service in (first, second):
        service.stop()  # its last lines are in its log
    split = {service.name: _delivered_by(service.logpath) for service in (first, second)}
    outcome.notes.append(
        f"{stored:,} purchases stored with both clusters stopped, then drained by both; "
        f"events delivered per cluster: {split}"
    )
    outcome = stage.account(outcome, [result])
    if outcome.duplicates:
        outcome.failures.append(f"{outcome.duplicates} events sent twice")
    if not all(split.values()):
        outcome.notes.append("one cluster delivered nothing: the run did not make them compete")
    return outcome


def _delivered_by(logpath: Path) -> int:
    delivered = 0
    for line in logpath.read_text(errors="replace").splitlines():
        if '"dispatch_turn"' in line:
            try:
                delivered += int(json.loads(line).get("delivered", 0))
            except ValueError:
                continue
    return delivered


RUNS = {
    "load": (run_load, False),
    "destination-down": (run_destination_down, False),
    "worker-kill": (run_worker_kill, False),
    "database-restart": (run_database_restart, False),
    "redis-restart": (run_redis_restart, True),
    "fairness": (run_fairness, False),
    "two-clusters": (run_two_clusters, True),
}


def child(name: str, workspace_path: Path, quick: bool) -> None:
    """One run in a process of its own (settings are per process); prints its outcome."""
    workspace = Workspace(path=workspace_path)
    run, uses_redis = RUNS[name]
    pg = Postgres(workspace, PORTS["postgres"])
    redis = RedisServer(workspace, PORTS["redis"]) if uses_redis else None
    stage = Stage(workspace, pg, redis, name)
    try:
        outcome = run(stage, quick)
    finally:
        stage.close()
    print(json.dumps(outcome.__dict__))  # noqa: T201


def main() -> int:
    parser = argparse.ArgumentParser(description="Fault runs, each ending in a line of figures.")
    parser.add_argument("runs", nargs="*", help=f"some of: {', '.join(RUNS)} (default: all)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the workspace (logs)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--workspace", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.child, options.workspace, options.quick)
        return 0
    names = options.runs or list(RUNS)
    unknown = set(names) - set(RUNS)
    if unknown:
        parser.error(f"unknown runs: {', '.join(sorted(unknown))}")

    workspace = Workspace(keep=options.keep)
    log(f"workspace {workspace.path}")
    pg = Postgres(workspace, PORTS["postgres"]).start()
    redis = RedisServer(workspace, PORTS["redis"]).start()
    outcomes = []
    started = time.monotonic()
    try:
        postgres_version = pg.version()
        for name in names:
            log(f"== {name}")
            outcomes.append(_child_run(name, workspace, options.quick))
            log(f"{name}: {outcomes[-1].line()}")
            if not pg_alive(pg):
                pg.start()
            if not port_open(redis.port):
                redis.start()
    finally:
        redis.stop()
        pg.stop()
        workspace.remove()

    print(f"## Fault runs{' (--quick)' if options.quick else ''}\n")  # noqa: T201
    print(machine_line(postgres_version, started, "PostgreSQL and Redis of the run's own") + "\n")  # noqa: T201
    for outcome in outcomes:
        verdict = "pass" if outcome.passed else "FAIL: " + "; ".join(outcome.failures)
        print(f"### {outcome.name}: {verdict}\n")  # noqa: T201
        for note in outcome.notes:
            print(f"- {note}")  # noqa: T201
        print(f"\n    {outcome.line()}\n")  # noqa: T201
    return 0 if all(o.passed for o in outcomes) else 1


def pg_alive(pg: Postgres) -> bool:
    try:
        pg.version()
    except Exception:  # noqa: BLE001 - any failure means: start it again
        return False
    return True


def _child_run(name: str, workspace: Workspace, quick: bool) -> Outcome:
    argv = [sys.executable, __file__, "--child", name, "--workspace", str(workspace.path)]
    done = subprocess.run(  # noqa: S603 - this script
        argv + (["--quick"] if quick else []),
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        timeout=1800,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return Outcome(
            name, crashed=True, failures=[f"the run itself failed (exit {done.returncode})"]
        )
    return Outcome(**json.loads(lines[-1]))


if __name__ == "__main__":
    sys.exit(main())
