"""The benchmark: one run, one markdown table on stdout.

    .venv/bin/python bench/run.py            # the full run (about half an hour)
    .venv/bin/python bench/run.py --quick    # every figure, smaller and shorter

It starts its own PostgreSQL and Redis on loopback ports (see `PORTS`), runs the
product under gunicorn (sync workers, 2 of them, persistent database connections) and
`manage.py qcluster` against them, with a fake Mixpanel on loopback, and removes
everything when done. Progress goes to stderr; the table (with the machine's
description) to stdout. Nothing is aimed at any address but 127.0.0.1.

Figures:
- ingest: Shopify `orders/paid` webhooks (13 KB, HMAC-signed) from 8 concurrent
  senders into one organisation, throughput and latency, beside a bare Django view
  that only checks the HMAC, parses the body and inserts a row (`bare_app.py`);
- dispatch: purchases already stored, drained by one worker cluster into the fake
  Mixpanel, events per second;
- webhook to receipt: one webhook at a time, from the request's start to its event's
  arrival at the fake Mixpanel, with the database broker and with Redis;
- provisioning at the 1st, 200th and 1,000th organisation, and migrating 200
  organisations (`tenants_scale.py`);
- peak resident memory of the web and worker processes during the run.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # noqa: E402
from harness import (  # noqa: E402
    PYTHON,
    PeakRss,
    Postgres,
    RedisServer,
    Workspace,
    django_setup,
    gunicorn,
    log,
    machine_line,
    mib,
    migrate,
    product_env,
    qcluster,
    wait_until,
)

PORTS = {"web": 18700, "bare": 18701, "receiver": 18702, "postgres": 18778, "redis": 18779}
# Our own Redis server; the number only keeps clear of anyone else's habits.
REDIS_DB = 7
SENDERS = 8
# The bare view's one table (bare_app.py inserts into it).
BARE_TABLE_SQL = (
    "CREATE TABLE IF NOT EXISTS bench_bare_receipt (id bigserial PRIMARY KEY, "
    "webhook_id text UNIQUE, order_id bigint, received_at timestamptz DEFAULT now())"
)


@dataclass(frozen=True)
class Sizes:
    ingest_seconds: float
    dispatch_events: int
    latency_samples: int
    checkpoints: str
    migrate_at: int


FULL = Sizes(
    ingest_seconds=20,
    dispatch_events=20000,
    latency_samples=100,
    checkpoints="1,200,1000",
    migrate_at=200,
)
QUICK = Sizes(
    ingest_seconds=5,
    dispatch_events=2000,
    latency_samples=20,
    checkpoints="1,20,50",
    migrate_at=20,
)


class Table:
    def __init__(self):
        self.rows: list[tuple[str, str, str]] = []

    def add(self, measure: str, value: str, notes: str = "") -> None:
        log(f"{measure}: {value} {notes}")
        self.rows.append((measure, value, notes))

    def markdown(self) -> str:
        lines = ["| Measure | Value | Notes |", "|---|---|---|"]
        lines += [f"| {m} | {v} | {n} |" for m, v, n in self.rows]
        return "\n".join(lines)


class Bench:
    def __init__(self, sizes: Sizes, keep: bool):
        self.sizes = sizes
        self.table = Table()
        self.workspace = Workspace(keep=keep)
        self.pg = Postgres(self.workspace, PORTS["postgres"])
        self.redis = RedisServer(self.workspace, PORTS["redis"])
        self.memory = PeakRss()
        self.services = []
        self.receiver = None

    # -- set-up ---------------------------------------------------------------

    def start(self) -> None:
        log(f"workspace {self.workspace.path}")
        self.pg.start()
        self.redis.start()
        self.database_url = self.pg.create_database("bench")
        self.receiver_url = f"http://127.0.0.1:{PORTS['receiver']}"
        self.env = self.env_for(redis=False)
        log("migrating the bench database")
        migrate(self.env)
        django_setup(self.env)
        self.memory.start()

    def env_for(self, *, redis: bool) -> dict:
        return product_env(
            database_url=self.database_url,
            data_dir=self.workspace.path,
            redis_url=self.redis.url(REDIS_DB) if redis else None,
            custom_hosts=self.receiver_url,
        )

    def stop(self) -> None:
        for service in self.services:
            service.stop()
        if self.receiver:
            self.receiver.stop()
        self.memory.stop()
        self.redis.stop()
        self.pg.stop()
        self.workspace.remove()

    def web(self, env: dict, label: str = "web"):
        service = gunicorn(env, PORTS["web"], self.workspace.logfile(label))
        self.services.append(service)
        self.memory.watch("web", service.pid)
        return service

    def worker(self, env: dict, label: str = "worker"):
        service = qcluster(env, self.workspace.logfile(label), label)
        self.services.append(service)
        self.memory.watch("worker", service.pid)
        return service

    def start_receiver(self):
        from receiver import Receiver

        self.receiver = Receiver(PORTS["receiver"]).start()
        return self.receiver

    # -- ingest ---------------------------------------------------------------

    def ingest(self) -> None:
        from shop import OrderFactory, provision

        orgs = [provision(f"ingest{i}", receiver_url=self.receiver_url) for i in range(SENDERS)]
        factory = OrderFactory(guest=False)
        seconds = self.sizes.ingest_seconds

        def streams(start: int, spread: bool = False):
            return [
                factory.stream(orgs[i if spread else 0], start=start + i * 10_000_000)
                for i in range(SENDERS)
            ]

        web = self.web(self.env)
        load.run(PORTS["web"], streams(1, spread=True), seconds=2)  # warm both workers
        product = load.run(PORTS["web"], streams(100_000_000), seconds=seconds)
        spread = load.run(PORTS["web"], streams(200_000_000, spread=True), seconds=seconds)
        web.stop()
        self._check_ok(product, "ingest")
        self._check_ok(spread, "ingest, 8 organisations")

        self.pg.sql(BARE_TABLE_SQL, "bench")
        bare = gunicorn(
            {**self.env, "PYTHONPATH": str(Path(__file__).parent)},
            PORTS["bare"],
            self.workspace.logfile("bare"),
            app="bare_app:application",
        )
        self.services.append(bare)
        load.run(PORTS["bare"], streams(1), seconds=2)
        baseline = load.run(PORTS["bare"], streams(100_000_000), seconds=seconds)
        bare.stop()
        self._check_ok(baseline, "bare view")

        self.table.add(
            "Ingest: Shopify webhooks/s (8 senders, one organisation)",
            f"{product.rate:,.0f}/s",
            f"{len(product.ok()):,} in {product.seconds:.0f} s; "
            f"{product.rate / baseline.rate:.2f} of the bare view",
        )
        self.table.add(
            "Ingest latency p50 / p99",
            f"{product.percentile(0.5):.1f} / {product.percentile(0.99):.1f} ms",
            "per webhook, connection included",
        )
        self.table.add(
            "Ingest: the same, 8 senders into 8 organisations",
            f"{spread.rate:,.0f}/s",
            f"p50 {spread.percentile(0.5):.1f} ms, p99 {spread.percentile(0.99):.1f} ms",
        )
        self.table.add(
            "Bare view baseline (HMAC, parse, one insert)",
            f"{baseline.rate:,.0f}/s",
            f"p50 {baseline.percentile(0.5):.1f} ms, p99 {baseline.percentile(0.99):.1f} ms",
        )

    def _check_ok(self, result: load.LoadResult, what: str) -> None:
        failed = {s: n for s, n in result.statuses().items() if not 200 <= s < 300}
        if failed:
            raise SystemExit(f"{what}: answers other than 2xx: {failed}")

    # -- dispatch -------------------------------------------------------------

    def dispatch(self) -> None:
        from shop import api_batches, provision, stored_counts

        receiver = self.start_receiver()
        org = provision("dispatch", receiver_url=self.receiver_url, api=True)
        total = self.sizes.dispatch_events
        per = total // SENDERS
        web = self.web(self.env, "web-dispatch")
        streams = [api_batches(org, start=1 + i * per, count=per) for i in range(SENDERS)]
        stored = load.run(PORTS["web"], streams)
        web.stop()
        self._check_ok(stored, "dispatch fill")
        queued = stored_counts([org])[org.slug]["deliveries"].get("pending", 0)
        log(f"{queued} deliveries pending; starting one worker cluster")

        started = time.time()
        worker = self.worker(self.env, "worker-dispatch")
        drained = wait_until(lambda: receiver.unique() >= queued, timeout=600, interval=0.2)
        worker.stop()
        if not drained:
            raise SystemExit(f"dispatch: {receiver.unique()} of {queued} arrived in 10 minutes")
        arrivals = sorted(receiver.first_arrival.values())
        sending = arrivals[-1] - arrivals[0]
        self.table.add(
            "Dispatch: events/s into the fake Mixpanel (one cluster, 2 workers)",
            f"{queued / sending:,.0f}/s" if sending else "n/a",
            f"{queued:,} events stored through the API integration; first arrived "
            f"{arrivals[0] - started:.1f} s after the cluster started, "
            f"last {arrivals[-1] - started:.1f} s; "
            f"duplicates {receiver.duplicates()}",
        )

    # -- webhook to receipt -----------------------------------------------------

    def latency(self) -> None:
        from shop import OrderFactory, provision

        receiver = self.receiver or self.start_receiver()
        org = provision("latency", receiver_url=self.receiver_url)
        factory = OrderFactory(guest=True)
        token = f"token-{org.slug}"
        next_order = 1
        for broker, use_redis in (("database", False), ("Redis", True)):
            env = self.env_for(redis=use_redis)
            web = self.web(env, f"web-{broker}")
            worker = self.worker(env, f"worker-{broker}")
            samples = []
            # The first webhook waits for the cluster to start: not counted.
            for _ in range(self.sizes.latency_samples + 1):
                request = factory.request(org, next_order)
                next_order += 1
                answer = load.send(PORTS["web"], request)
                if answer.status != 200:
                    raise SystemExit(f"latency: webhook answered {answer.status}")
                order_id = request.key[1]
                if not wait_until(
                    lambda oid=order_id: receiver.arrival_of(token, oid) is not None,
                    timeout=60,
                    interval=0.005,
                ):
                    raise SystemExit(f"latency: order {order_id} did not arrive in 60 s")
                samples.append(receiver.arrival_of(token, order_id) - answer.started)
                time.sleep(0.2)
            samples = samples[1:]
            worker.stop()
            web.stop()
            samples.sort()
            p99 = samples[min(len(samples) - 1, round(0.99 * len(samples)) - 1)]
            self.table.add(
                f"Webhook to receipt, {broker} broker: p50 / p99",
                f"{statistics.median(samples) * 1000:.0f} / {p99 * 1000:.0f} ms",
                f"{len(samples)} webhooks, one at a time",
            )

    # -- organisations ------------------------------------------------------------

    def organisations(self) -> None:
        url = self.pg.create_database("bench_tenants")
        log(f"provisioning up to {self.sizes.checkpoints.split(',')[-1]} organisations")
        done = subprocess.run(  # noqa: S603 - our own script
            [
                PYTHON,
                str(Path(__file__).parent / "tenants_scale.py"),
                "--database-url",
                url,
                "--data-dir",
                str(self.workspace.path),
                "--checkpoints",
                self.sizes.checkpoints,
                "--migrate-at",
                str(self.sizes.migrate_at),
            ],
            stdout=subprocess.PIPE,
            stderr=self.workspace.logfile("tenants_scale").open("w"),
            text=True,
            timeout=3600,
        )
        if done.returncode != 0:
            raise SystemExit(f"tenants_scale failed; see {self.workspace.logfile('tenants_scale')}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        for number, figures in result["provisioning"].items():
            self.table.add(
                f"Provisioning one organisation, {int(number):,} present",
                f"{figures['median_s']:.2f} s",
                f"median of {figures['samples']} with {int(number):,} present "
                "(clone, domain, admin with the real hasher)",
            )
        migrate_times = result["migrate"]
        count = migrate_times["organisations"]
        self.table.add(
            f"Migrate {count} organisations, standard executor",
            f"{migrate_times['standard_s']:.1f} s",
            "2 migrations (a table, a constraint) in every schema",
        )
        self.table.add(
            f"Migrate {count} organisations, `--executor=multiprocessing`",
            f"{migrate_times['multiprocessing_s']:.1f} s",
            "4 processes (TENANT_MULTIPROCESSING_MAX_PROCESSES)",
        )
        self.table.add(
            f"`migrate_schemas` with nothing to apply, {count} organisations",
            f"{migrate_times['noop_s']:.1f} s",
            "what a deploy without new migrations costs",
        )
        # Not dropped: with 1,000 schemas that takes minutes, and the server's whole
        # data folder goes at the end of the run anyway.

    def memory_rows(self) -> None:
        for label, what in (("web", "gunicorn master + 2 workers"), ("worker", "qcluster")):
            if label in self.memory.peak_process:
                self.table.add(
                    f"Peak RSS, {label}",
                    f"{mib(self.memory.peak_process[label])} per process",
                    f"{mib(self.memory.peak_total[label])} for {what} together",
                )


SECTIONS = ("ingest", "dispatch", "latency", "organisations")


def main() -> None:
    parser = argparse.ArgumentParser(description="The benchmark: one markdown table.")
    parser.add_argument("--quick", action="store_true", help="smaller and shorter")
    parser.add_argument("--keep", action="store_true", help="keep the workspace (logs)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    options = parser.parse_args()
    bench = Bench(QUICK if options.quick else FULL, keep=options.keep)
    started = time.monotonic()
    try:
        bench.start()
        postgres_version = bench.pg.version()
        for section in options.only.split(","):
            getattr(bench, section)()
        bench.memory_rows()
    finally:
        bench.stop()
    print(f"## Benchmark{' (--quick)' if options.quick else ''}\n")  # noqa: T201
    print(machine_line(postgres_version, started, "PostgreSQL of the run's own") + "\n")  # noqa: T201
    print(bench.table.markdown())  # noqa: T201


if __name__ == "__main__":
    main()
