"""Webhook ingest under gunicorn, beside a bare Django view, in one run.

    .venv/bin/python bench/ingest.py            # 15 s per figure
    .venv/bin/python bench/ingest.py --seconds 5

Starts a PostgreSQL of its own on loopback (`harness.Postgres`), migrates a new
database, provisions one organisation with a Shopify shop and a Mixpanel project
(deliveries are created; no worker runs, so nothing is sent), and serves the product
with gunicorn (2 sync workers, the database broker and cache: no Redis). Beside it, on
the same database server, `bare_app.py` (HMAC check, JSON parse, one insert; no
middleware, no tenancy) runs under the same gunicorn settings.

Signed copies of `shopify-orders-paid.json` with unique order ids and webhook ids go
to each, from 8 and then 32 concurrent senders, one connection per request. The two
servers take turns in short rounds, so load from elsewhere on the machine falls on
both alike. Besides throughput and latency, the CPU time the web processes spent per
request is reported: it is the figure other load disturbs least. Every product answer
must be a 200 and every order stored once.

Progress goes to stderr; a markdown report to stdout. Nothing is aimed at any address
but 127.0.0.1.
"""

import argparse
import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # noqa: E402
from harness import (  # noqa: E402
    Postgres,
    Workspace,
    django_setup,
    gunicorn,
    log,
    machine_line,
    migrate,
    product_env,
)
from run import BARE_TABLE_SQL  # noqa: E402
from shop import OrderFactory, provision, stored_orders  # noqa: E402

# This run's loopback ports (the receiver port is only configured, never served).
PORTS = {"web": 18401, "bare": 18402, "receiver": 18403, "postgres": 18478}
CONNECTIONS = (8, 32)
# Each figure is measured in this many turns per server.
ROUNDS = 3
WARM_SECONDS = 2
# Order ids of each round start at a block of their own, so no two requests share one.
ID_BLOCK = 10_000_000


@dataclass
class Figure:
    """One server at one concurrency, summed over its rounds."""

    label: str
    answers: list = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    db_cpu_seconds: float = 0.0

    def add(self, result: load.LoadResult, cpu_seconds: float, db_cpu_seconds: float) -> None:
        failed = {s: n for s, n in result.statuses().items() if s != 200}
        if failed:
            raise SystemExit(f"{self.label}: answers other than 200: {failed}")
        self.answers += result.answers
        self.seconds += result.seconds
        self.cpu_seconds += cpu_seconds
        self.db_cpu_seconds += db_cpu_seconds

    @property
    def result(self) -> load.LoadResult:
        return load.LoadResult(answers=self.answers, seconds=self.seconds)

    def row(self, baseline: "Figure | None" = None) -> str:
        r = self.result
        share = f"{r.rate / baseline.result.rate:.2f}" if baseline else ""
        cpu_ms = self.cpu_seconds / len(self.answers) * 1000
        db_ms = self.db_cpu_seconds / len(self.answers) * 1000
        return (
            f"| {self.label} | {r.rate:,.0f} | {r.percentile(0.5):.1f} | "
            f"{r.percentile(0.99):.1f} | {cpu_ms:.2f} | {db_ms:.2f} | {len(self.answers):,} "
            f"| {share} |"
        )


def _cpu_seconds(pid: int) -> float:
    """CPU time so far of a process and its children (gunicorn's master and workers,
    or PostgreSQL's postmaster and backends)."""
    master = psutil.Process(pid)
    # Children that have ended count in their parent's children_* times.
    times = master.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for process in master.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


class Server:
    def __init__(self, label: str, service, port: int, org, factory: OrderFactory, db_pid: int):
        self.label = label
        self.service = service
        self.db_pid = db_pid
        self.port = port
        self.org = org
        self.factory = factory
        self.blocks = iter(range(1, 1_000_000))

    def streams(self, connections: int):
        return [
            self.factory.stream(self.org, start=next(self.blocks) * ID_BLOCK)
            for _ in range(connections)
        ]

    def round(self, figure: Figure, connections: int, seconds: float) -> None:
        before, db_before = _cpu_seconds(self.service.pid), _cpu_seconds(self.db_pid)
        result = load.run(self.port, self.streams(connections), seconds=seconds)
        figure.add(
            result,
            _cpu_seconds(self.service.pid) - before,
            _cpu_seconds(self.db_pid) - db_before,
        )


def _measure(product: Server, bare: Server, seconds: float) -> list[tuple[Figure, Figure]]:
    for server in (product, bare):
        load.run(server.port, server.streams(8), seconds=WARM_SECONDS)
    pairs = []
    for connections in CONNECTIONS:
        ours = Figure(f"Product webhook, {connections} connections")
        theirs = Figure(f"Bare view, {connections} connections")
        for _ in range(ROUNDS):
            product.round(ours, connections, seconds / ROUNDS)
            bare.round(theirs, connections, seconds / ROUNDS)
        log(
            f"{connections} connections: product {ours.result.rate:,.0f}/s, "
            f"bare {theirs.result.rate:,.0f}/s"
        )
        pairs.append((ours, theirs))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="per figure")
    parser.add_argument("--keep", action="store_true", help="keep the workspace (logs)")
    options = parser.parse_args()

    started = time.monotonic()
    workspace = Workspace(keep=options.keep)
    pg = Postgres(workspace, PORTS["postgres"])
    services = []
    try:
        pg.start()
        database_url = pg.create_database("bench_ingest")
        receiver_url = f"http://127.0.0.1:{PORTS['receiver']}"
        env = product_env(
            database_url=database_url, data_dir=workspace.path, custom_hosts=receiver_url
        )
        log("migrating the bench database")
        migrate(env)
        django_setup(env)
        org = provision("ingest", receiver_url=receiver_url)
        pg.sql(BARE_TABLE_SQL, "bench_ingest")

        factory = OrderFactory(guest=False)
        web = gunicorn(env, PORTS["web"], workspace.logfile("web"))
        services.append(web)
        bare_env = {**env, "PYTHONPATH": str(Path(__file__).parent)}
        bare_app = gunicorn(
            bare_env, PORTS["bare"], workspace.logfile("bare"), app="bare_app:application"
        )
        services.append(bare_app)
        pairs = _measure(
            Server("product", web, PORTS["web"], org, factory, pg.pid()),
            Server("bare", bare_app, PORTS["bare"], org, factory, pg.pid()),
            options.seconds,
        )

        found, rows = stored_orders([org])
        sent = sum(len(ours.answers) for ours, _ in pairs)
        if rows != len(found) or rows < sent:
            raise SystemExit(f"stored {rows} purchase rows for {len(found)} orders; {sent} sent")
        version = pg.version()
    finally:
        for service in services:
            service.stop()
        pg.stop()
        workspace.remove()

    lines = [
        "## Ingest: Shopify webhooks beside a bare Django view",
        "",
        machine_line(version, started, "PostgreSQL of the run's own"),
        "",
        f"`bench/ingest.py --seconds {options.seconds:g}`: signed `shopify-orders-paid.json`"
        " (13 KB, unique order and webhook ids, a shopper held for an identity), gunicorn"
        " with 2 sync workers, database broker and cache, one Mixpanel installation (a"
        " delivery per purchase), one connection per request. The bare view checks the"
        " HMAC, parses the JSON and inserts one row. The servers took turns in"
        f" {ROUNDS} rounds per figure; CPU is the web processes' time per request, DB CPU"
        " the database server's (its backends' and background processes').",
        "",
        "| Run | Requests/s | p50 ms | p99 ms | CPU ms/request | DB CPU ms/request | Answered "
        "| Share of bare |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *[ours.row(theirs) for ours, theirs in pairs],
        *[theirs.row() for _, theirs in pairs],
        "",
        f"Every product answer was a 200; {rows:,} purchases stored, one per order.",
    ]
    print("\n".join(lines))  # noqa: T201


if __name__ == "__main__":
    main()
