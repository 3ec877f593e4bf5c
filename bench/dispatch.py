"""Dispatch: drain 20,000 pending deliveries into a fake Mixpanel, and webhook-to-receipt.

For each broker (the database; Redis when REDIS_URL is given) it starts a real worker
(`manage.py qcluster`) on a database of its own, `bench_dispatch`, created on the
server of DATABASE_URL and dropped at the end, with the development receiver
(`catalog_integrations.mixpanel.receiver`) on a loopback port in this process. Then:

- drain: 20,000 purchases stored with pending deliveries, one dispatch enqueued; time
  until the receiver holds every `$insert_id`; events per second;
- webhook to receipt: signed `orders/paid` webhooks (the shared sample, a fresh order
  id each) handled one at a time by the product's WSGI application in this process,
  timed from the start of the request to the event's first arrival at the receiver;
- the worker cluster's peak resident memory (all its processes together).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/dispatch.py [--events 20000]

Prints a Markdown table on stdout; progress on stderr. Only 127.0.0.1 is ever called.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
BENCH_DATABASE = "bench_dispatch"
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
SAMPLE = ROOT / "events" / "demo_samples" / "shopify-orders-paid.json"
SHOP_SECRET = "bench-shop-secret"  # noqa: S105 - a made-up secret for a local run
SHOP_DOMAIN = "bench-shop.myshopify.com"
DRAIN_TIMEOUT_SECONDS = 600
RECEIPT_TIMEOUT_SECONDS = 30


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _maintenance(server_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(_with_database(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(statement)


class PeakRss(threading.Thread):
    """Samples the summed resident memory of a process and its children."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stopping = pid, 0, threading.Event()

    def run(self):
        import psutil

        root = psutil.Process(self.pid)
        while not self.stopping.wait(0.2):
            try:
                procs = [root, *root.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                continue


def _setup(receiver_url: str):
    """Migrate, provision the organisation, install a shop and Mixpanel (not timed)."""
    import django
    from django.core.management import call_command

    django.setup()
    import logging

    logging.disable(logging.INFO)
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    call_command("migrate_schemas", interactive=False, verbosity=0)
    from django_tenants.utils import tenant_context

    from accounts.actors import Actor
    from catalog_integrations.services import installation_create
    from tenants.services import organisation_create

    actor = Actor.system("bench")
    organisation = organisation_create(
        slug="bench", name="Bench", admin_email="admin@bench.test", actor=actor
    ).organisation
    with tenant_context(organisation):
        shop = installation_create(
            integration="shopify",
            name="Shop",
            config={"shop_domain": SHOP_DOMAIN, "webhook_secret": SHOP_SECRET},
            actor=actor,
        ).installation
        mixpanel = installation_create(
            integration="mixpanel",
            name="Mixpanel",
            config={"project_token": "bench", "api_secret": "bench", "api_host": receiver_url},
            actor=actor,
        ).installation
    return organisation, shop, mixpanel


def _store_pending(organisation, shop, count: int) -> list[str]:
    """`count` purchases with a pending delivery each, as ingestion leaves them."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from catalog_integrations.sources import ingest_source
    from events.models import Delivery, Purchase
    from events.services.deliveries import Audience, deliveries_build, work_due_mark

    now = timezone.now()
    insert_ids = []
    with tenant_context(organisation):
        destinations = ingest_source(str(shop.pk), "shopify", fresh=True).destination_ids
        for start in range(0, count, 2000):
            purchases = Purchase.objects.bulk_create(
                Purchase(
                    installation=shop,
                    kind="purchase",
                    dedupe_key=f"drain-{n}",
                    order_id=f"drain-{n}",
                    amount=Decimal("19.99"),
                    currency="EUR",
                    occurred_at=now - timedelta(minutes=n % 600),
                    items=[{"sku": "MUG", "name": "Mug", "quantity": 1, "price": "19.99"}],
                )
                for n in range(start, min(start + 2000, count))
            )
            deliveries = [
                delivery
                for purchase in purchases
                for delivery in deliveries_build(
                    schema_name=organisation.schema_name,
                    purchase=purchase,
                    audience=Audience(None, ""),
                    destination_ids=destinations,
                    now=now,
                )
            ]
            Delivery.objects.bulk_create(deliveries)
            insert_ids += [d.insert_id for d in deliveries]
        work_due_mark(organisation=organisation, due_at=now)
    return insert_ids


def _wait_for(receiver, insert_ids: set[str], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        # Counting is cheap; the set comparison runs once enough events are in.
        if len(receiver.state.accepted) >= len(insert_ids):
            elapsed = time.monotonic() - started
            with receiver.state.lock:
                got = {e["properties"]["$insert_id"] for e in receiver.state.accepted}
            if insert_ids <= got:
                return elapsed
        time.sleep(0.02)
    raise RuntimeError(f"Only {len(receiver.state.accepted)} of {len(insert_ids)} arrived.")


def _webhook_latencies(organisation, shop, receiver, samples: int) -> list[float]:
    """Seconds from a webhook's start to its event's first arrival, one at a time."""
    import base64
    import hashlib
    import hmac

    from django.test import Client

    sample = json.loads(SAMPLE.read_bytes())
    arrivals: dict[str, float] = {}
    original = receiver.respond

    def respond(request, state):
        reply = original(request, state)
        for event in request.events or []:
            order = event.get("properties", {}).get("order_id")
            arrivals.setdefault(order, time.perf_counter())
        return reply

    receiver.respond = respond
    client = Client(HTTP_HOST=f"{organisation.slug}.localhost")
    path = f"/api/v1/integrations/shopify/{shop.pk}/webhooks"
    latencies = []
    for n in range(samples):
        order_id = 7_000_000_000 + n
        # A guest checkout: it goes out at once (no identity hold).
        body = json.dumps({**sample, "id": order_id, "customer": None}).encode()
        signature = base64.b64encode(hmac.new(SHOP_SECRET.encode(), body, hashlib.sha256).digest())
        started = time.perf_counter()
        response = client.post(
            path,
            data=body,
            content_type="application/json",
            HTTP_X_SHOPIFY_TOPIC="orders/paid",
            HTTP_X_SHOPIFY_HMAC_SHA256=signature.decode(),
            HTTP_X_SHOPIFY_SHOP_DOMAIN=SHOP_DOMAIN,
            HTTP_X_SHOPIFY_WEBHOOK_ID=f"bench-{n}",
        )
        assert response.status_code == 200, response.content
        deadline = started + RECEIPT_TIMEOUT_SECONDS
        while str(order_id) not in arrivals and time.perf_counter() < deadline:
            time.sleep(0.002)
        latencies.append(arrivals[str(order_id)] - started)
        time.sleep(0.05)
    return latencies


def run_one(broker: str, events: int, webhooks: int) -> dict:
    """One broker's figures (runs in its own process: settings are read once)."""
    sys.path.insert(0, str(ROOT))
    from catalog_integrations.mixpanel.receiver import MixpanelReceiver

    receiver = MixpanelReceiver().start()
    os.environ["MIXPANEL_CUSTOM_HOSTS"] = receiver.url
    organisation, shop, mixpanel = _setup(receiver.url)
    from django.db import connections

    insert_ids = _store_pending(organisation, shop, events)
    log(f"[{broker}] {len(insert_ids)} pending deliveries stored")
    connections.close_all()

    worker = subprocess.Popen(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    memory = PeakRss(worker.pid)
    memory.start()
    try:
        time.sleep(3)  # the cluster starts its workers
        from events.tasks import dispatch_enqueue

        dispatch_enqueue(schema_name=organisation.schema_name, destination_id=mixpanel.pk)
        drained = _wait_for(receiver, set(insert_ids), DRAIN_TIMEOUT_SECONDS)
        log(f"[{broker}] drained in {drained:.2f} s")
        latencies = _webhook_latencies(organisation, shop, receiver, webhooks)
    finally:
        worker.terminate()
        worker.wait(15)
        memory.stopping.set()
        receiver.stop()
    latencies.sort()
    return {
        "broker": broker,
        "events": len(insert_ids),
        "drain_seconds": drained,
        "events_per_second": len(insert_ids) / drained,
        "requests": len(receiver.state.requests),
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
        "webhooks": len(latencies),
        "peak_rss_mib": memory.peak / 1024 / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--webhooks", type=int, default=200)
    parser.add_argument("--only", choices=["orm", "redis"], help=argparse.SUPPRESS)
    options = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL") or DEFAULT_SERVER

    if options.only:
        os.environ["DATABASE_URL"] = _with_database(server_url, BENCH_DATABASE)
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
        result = run_one(options.only, options.events, options.webhooks)
        print(json.dumps(result))
        return

    brokers = ["orm"] + (["redis"] if os.environ.get("REDIS_URL") else [])
    results = []
    for broker in brokers:
        _maintenance(server_url, f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        _maintenance(server_url, f'CREATE DATABASE "{BENCH_DATABASE}"')
        env = dict(os.environ, DATABASE_URL=server_url)
        if broker == "orm":
            env.pop("REDIS_URL", None)
        try:
            out = subprocess.run(  # noqa: S603 - this script, fixed arguments
                [
                    sys.executable,
                    __file__,
                    "--only",
                    broker,
                    "--events",
                    str(options.events),
                    "--webhooks",
                    str(options.webhooks),
                ],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
        finally:
            _maintenance(server_url, f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        sys.stderr.write(out.stderr)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))

    print(f"# Dispatch ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores)\n")
    print("| Broker | Drained | Events/s | Requests | Webhook to receipt p50 | p99 | Worker RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['broker']} | {r['events']:,} in {r['drain_seconds']:.1f} s "
            f"| {r['events_per_second']:,.0f} | {r['requests']} "
            f"| {r['p50'] * 1000:.0f} ms | {r['p99'] * 1000:.0f} ms "
            f"| {r['peak_rss_mib']:.0f} MiB |"
        )


if __name__ == "__main__":
    main()
