"""Median time to provision an organisation, with 1 and with 200 organisations present.

Provisioning is `tenants.services.organisation_create`, as sign-up, the admin and
`create_organisation` call it: copy of the base schema, domain, first admin (with the
real password hasher), audit row. Each sample is deleted again, so the population
stays at its checkpoint while it is measured.

The run uses a database of its own, `bench_provisioning`, on the server of
DATABASE_URL (default postgres://postgres@127.0.0.1:5432/): created at the start,
dropped at the end, even when the run fails.

    .venv/bin/python bench/provisioning.py [--population 200] [--samples 7]

Prints a Markdown report on stdout; progress goes to stderr.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
BENCH_DATABASE = "bench_provisioning"
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _maintenance(server_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(_with_database(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(statement)


def _create(slug: str) -> float:
    from accounts.actors import Actor
    from tenants.services import organisation_create

    started = time.perf_counter()
    organisation_create(
        slug=slug,
        name=slug,
        admin_email=f"admin@{slug}.test",
        admin_password="bench-passphrase-1",
        actor=Actor.system("bench"),
    )
    return time.perf_counter() - started


def _delete(slug: str) -> None:
    from accounts.actors import Actor
    from tenants.models import Organisation
    from tenants.services import organisation_delete

    organisation = Organisation.objects.get(slug=slug)
    organisation_delete(organisation=organisation, actor=Actor.system("bench"))


def _samples(label: str, count: int) -> list[float]:
    """Provision `count` probes one after another, deleting each after it is timed."""
    durations = []
    for number in range(count):
        slug = f"probe-{label}-{number}"
        durations.append(_create(slug))
        _delete(slug)
    return durations


def _populate(upto: int, present: int) -> int:
    """Bring the population to `upto` organisations, with a cheap hasher (not timed)."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        for number in range(present + 1, upto + 1):
            _create(f"org{number:04d}")
            if number % 50 == 0:
                log(f"{number} organisations present")
    return upto


def _hash_seconds() -> float:
    from django.contrib.auth.hashers import make_password

    started = time.perf_counter()
    make_password("bench-passphrase-1")
    return time.perf_counter() - started


def _machine() -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory = f", {kib / 1024 / 1024:.1f} GiB RAM"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return [
        f"- Machine: {cpu}, {os.cpu_count()} cores{memory}; load average at the end {load}",
        f"- {platform.system()} {platform.release()}, Python {platform.python_version()}",
        f"- PostgreSQL {postgres} on {connection.settings_dict['HOST'] or 'a local socket'}",
        f"- Commit {commit or 'unknown'}",
    ]


def _median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=200)
    parser.add_argument("--samples", type=int, default=7)
    options = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    _maintenance(server_url, f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
    _maintenance(server_url, f'CREATE DATABASE "{BENCH_DATABASE}"')
    os.environ["DATABASE_URL"] = _with_database(server_url, BENCH_DATABASE)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    sys.path.insert(0, str(ROOT))
    try:
        _run(options)
    finally:
        from django.db import connections

        connections.close_all()
        _maintenance(server_url, f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        log(f"dropped {BENCH_DATABASE}")


def _run(options) -> None:
    import logging

    import django
    from django.core.management import call_command

    django.setup()
    logging.getLogger("tenants").setLevel(logging.WARNING)
    started = time.perf_counter()
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    call_command("migrate_schemas", interactive=False, verbosity=0)
    log(f"migrated a new database in {time.perf_counter() - started:.1f} s")

    present = _populate(1, 0)
    at_one = _samples("one", options.samples)
    log(f"with 1 present: {_median_ms(at_one)}")
    present = _populate(options.population, present)
    at_many = _samples("many", options.samples)
    log(f"with {present} present: {_median_ms(at_many)}")
    hashing = [_hash_seconds() for _ in range(options.samples)]

    lines = [
        f"# Provisioning an organisation ({time.strftime('%Y-%m-%d')})",
        "",
        "`bench/provisioning.py`: `organisation_create` (copy of the base schema, domain,",
        "first admin with the real password hasher, audit row), median of "
        f"{options.samples} samples,",
        "each deleted again after it is timed.",
        "",
        *_machine(),
        "",
        "| Organisations present | Median | Fastest | Slowest |",
        "|---:|---:|---:|---:|",
    ]
    for count, values in ((1, at_one), (present, at_many)):
        lines.append(
            f"| {count} | {_median_ms(values)} | {min(values) * 1000:.0f} ms "
            f"| {max(values) * 1000:.0f} ms |"
        )
    lines += [
        "",
        f"Of each sample, hashing the admin's password takes a median {_median_ms(hashing)}.",
    ]
    print("\n".join(lines))  # noqa: T201


if __name__ == "__main__":
    main()
