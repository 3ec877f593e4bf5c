"""Throughput of the users API: single creations (requests/s) and 1,000-user bulk upserts.

    .venv/bin/python bench/users_api.py [--requests 2000] [--concurrency 8] [--port 18390]

Runs against a database of its own: `BENCH_DATABASE_URL`, else `DATABASE_URL` with
`_bench_users` added to the database name (created when missing), else an embedded
PostgreSQL in a temporary folder. It migrates it, provisions a fresh `bench`
organisation with a Shopify installation and an API client, serves the product with
gunicorn (sync workers, as in production) on 127.0.0.1, gets a token at `/o/token/`
and then measures over HTTP with keep-alive clients. Progress goes to stderr; the
figures to stdout. Nothing but 127.0.0.1 is contacted.
"""

import argparse
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HOST = "127.0.0.1"
SLUG = "bench"
BULK_SIZE = 1000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _bench_database_url() -> str | None:
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "postgres"
    return urlunsplit(parts._replace(path=f"/{name}_bench_users"))


def _create_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    name = parts.path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            log(f"created database {name}")


def prepare_environment() -> None:
    """Point this process (and the servers it starts) at the bench's own database."""
    url = _bench_database_url()
    if url:
        _create_database(url)
        os.environ["DATABASE_URL"] = url
    else:
        os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="bench-users-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.pop("REDIS_URL", None)  # the database cache, as without configuration


def provision(port: int) -> dict:
    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    from django.core.management import call_command
    from django_tenants.utils import tenant_context

    from accounts.actors import Actor
    from accounts.services import api_client_create
    from catalog_integrations.models import Installation
    from tenants.models import Organisation
    from tenants.services import organisation_create, organisation_delete

    log("migrating")
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    call_command("migrate_schemas", interactive=False, verbosity=0)
    actor = Actor.system("bench")
    existing = Organisation.objects.filter(slug=SLUG).first()
    if existing:
        organisation_delete(organisation=existing, actor=actor)
    organisation = organisation_create(
        slug=SLUG, name="Bench", admin_email="bench@bench.test", actor=actor
    ).organisation
    with tenant_context(organisation):
        shop = Installation.objects.create(integration="shopify", name="Bench shop")
        created = api_client_create(name="bench", scopes=["users:write"], actor=actor)
    return {
        "installation_id": str(shop.pk),
        "client_id": created.client_id,
        "client_secret": created.client_secret,
        "host": f"{SLUG}.localhost:{port}",
    }


def serve(port: int, workers: int, log_path: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(  # noqa: S603 - fixed arguments, our own interpreter
        command,
        cwd=ROOT,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{HOST}:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit(f"gunicorn did not answer on port {port}; see {log_path}")


def token_for(base: str, site: dict) -> str:
    response = httpx.post(
        f"{base}/o/token/",
        data={"grant_type": "client_credentials"},
        auth=(site["client_id"], site["client_secret"]),
        headers={"Host": site["host"]},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def _user(run: str, n: int, installation_id: str) -> dict:
    return {
        "email": f"{run}-{n}@bench.test",
        "name": f"User {n}",
        "properties": {"plan": "gold", "n": n},
        "identities": [{"installation_id": installation_id, "external_id": f"{run}-{n}"}],
    }


def bench_creation(base, headers, site, *, requests: int, concurrency: int) -> dict:
    run = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker():
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                started = time.perf_counter()
                response = client.post("/api/v1/users", json=_user(run, n, site["installation_id"]))
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    if response.status_code != 201:
                        failures.append(response.status_code)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": requests,
        "failures": len(failures),
        "per_second": requests / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def bench_bulk(base, headers, site, *, rounds: int) -> dict:
    timings: dict[str, list[float]] = {"created": [], "updated": [], "unchanged": []}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        for _ in range(rounds):
            run = uuid.uuid4().hex[:8]
            users = [_user(run, n, site["installation_id"]) for n in range(BULK_SIZE)]
            renamed = [{**user, "name": user["name"] + " (renamed)"} for user in users]
            for expected, body in (
                ("created", users),
                ("updated", renamed),
                ("unchanged", renamed),
            ):
                started = time.perf_counter()
                response = client.post("/api/v1/users/bulk", json={"users": body})
                timings[expected].append(time.perf_counter() - started)
                statuses = {r["status"] for r in response.json()["results"]}
                if response.status_code != 200 or statuses != {expected}:
                    raise SystemExit(f"bulk {expected}: {response.status_code} {statuses}")
    return {kind: statistics.median(values) for kind, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bulk-rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 18390)))
    args = parser.parse_args()

    prepare_environment()
    load_before = os.getloadavg()[0]
    site = provision(args.port)
    base = f"http://{HOST}:{args.port}"
    log_path = Path(tempfile.gettempdir()) / "bench-users-api-gunicorn.log"
    log(f"serving on {base} ({args.workers} sync workers); log in {log_path}")
    server = serve(args.port, args.workers, log_path)
    try:
        headers = {"Host": site["host"], "Authorization": f"Bearer {token_for(base, site)}"}
        warm = bench_creation(base, headers, site, requests=200, concurrency=args.concurrency)
        log(f"warm-up: {warm['per_second']:.0f} requests/s")
        created = bench_creation(
            base, headers, site, requests=args.requests, concurrency=args.concurrency
        )
        bulk = bench_bulk(base, headers, site, rounds=args.bulk_rounds)
    finally:
        server.terminate()
        server.wait(timeout=10)

    cpus = os.cpu_count()
    print(f"users API benchmark, {time.strftime('%Y-%m-%d')}, Python {platform.python_version()}")
    print(
        f"machine: {cpus} CPUs, load average {load_before:.1f} before and "
        f"{os.getloadavg()[0]:.1f} after (other work on the machine skews the figures); "
        f"gunicorn {args.workers} sync workers; PostgreSQL over TCP"
    )
    print(
        f"POST /api/v1/users (one user with one identity), {created['requests']} requests, "
        f"{args.concurrency} keep-alive clients: {created['per_second']:.0f} requests/s, "
        f"p50 {created['p50_ms']:.1f} ms, p99 {created['p99_ms']:.1f} ms, "
        f"{created['failures']} failures"
    )
    for kind in ("created", "updated", "unchanged"):
        seconds = bulk[kind]
        print(
            f"POST /api/v1/users/bulk, {BULK_SIZE} users all {kind}: {seconds * 1000:.0f} ms "
            f"per call ({BULK_SIZE / seconds:.0f} users/s), median of {args.bulk_rounds}"
        )


if __name__ == "__main__":
    main()
