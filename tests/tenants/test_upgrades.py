"""CASES C13: a migration that one organisation's data breaks, then a converging rerun.

Runs the real `migrate_schemas` in subprocesses against a database of its own, with a
test-only tenant app whose second migration adds a constraint.
"""

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _conninfo(dbname: str) -> dict:
    db = settings.DATABASES["default"]
    return {
        "dbname": dbname,
        "user": db["USER"] or "postgres",
        "password": db["PASSWORD"] or None,
        "host": db["HOST"] or None,
        "port": db["PORT"] or None,
    }


def _url(dbname: str) -> str:
    info = _conninfo(dbname)
    host = info["host"] or ""
    auth = quote(info["user"]) + (":" + quote(info["password"]) if info["password"] else "")
    if host.startswith("/"):
        return f"postgres://{auth}@/{dbname}?host={quote(host)}"
    return f"postgres://{auth}@{host}:{info['port'] or 5432}/{dbname}"


@pytest.fixture
def upgrade_database():
    name = f"upgrade_{uuid.uuid4().hex[:10]}"
    admin = {k: v for k, v in _conninfo("postgres").items() if v is not None}
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(dbname: str, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": _url(dbname),
        "TEST_EXTRA_TENANT_APPS": "tests.upgrade_app",
        "REDIS_URL": "",
    }
    env.pop("REDIS_URL")
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _sql(dbname: str, statement: str):
    info = {k: v for k, v in _conninfo(dbname).items() if v is not None}
    with psycopg.connect(**info, autocommit=True) as conn:
        return (
            conn.execute(statement).fetchall()
            if statement.lstrip().startswith("SELECT")
            else conn.execute(statement)
        )


def _has_constraint(dbname: str, schema: str) -> bool:
    rows = _sql(
        dbname,
        "SELECT 1 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
        f"WHERE c.conname = 'probe_code_not_bad' AND n.nspname = '{schema}'",
    )
    return bool(rows)


def test_a_constraint_only_borealis_violates_fails_naming_it_then_a_rerun_converges(
    upgrade_database,
):
    db = upgrade_database
    assert _manage(db, "migrate_schemas", "--shared").returncode == 0
    assert _manage(db, "migrate_schemas").returncode == 0
    for slug in ("acme", "borealis"):
        created = _manage(
            db,
            "create_organisation",
            f"--slug={slug}",
            f"--name={slug}",
            f"--admin-email=admin@{slug}.test",
            "--json",
        )
        assert created.returncode == 0, created.stderr
    # The release before this one: every schema, the base included, on 0001.
    rollback = _manage(db, "migrate_schemas", "--tenant", "upgrade_app", "0001_initial")
    assert rollback.returncode == 0, rollback.stderr
    assert not _has_constraint(db, "acme")
    # An organisation cloned from a base that is behind is still migrated in full.
    late = _manage(db, "create_organisation", "--slug=cirrus", "--name=c", "--admin-email=a@c.test")
    assert late.returncode == 0, late.stderr
    assert _has_constraint(db, "cirrus")
    _sql(db, "INSERT INTO acme.upgrade_app_probe (code) VALUES ('good')")
    _sql(db, "INSERT INTO borealis.upgrade_app_probe (code) VALUES ('bad')")

    failed = _manage(db, "migrate_schemas")

    assert failed.returncode != 0
    assert "[borealis] migration failed" in failed.stderr
    assert "Migrations failed for borealis" in failed.stderr
    assert "acme" not in failed.stderr.split("Migrations failed for", 1)[1].split("(")[0]
    assert _has_constraint(db, "acme")
    assert not _has_constraint(db, "borealis")

    _sql(db, "UPDATE borealis.upgrade_app_probe SET code = 'fixed' WHERE code = 'bad'")
    rerun = _manage(db, "migrate_schemas")

    assert rerun.returncode == 0, rerun.stderr
    assert _has_constraint(db, "borealis")
    again = _manage(db, "migrate_schemas", "--check")
    assert again.returncode == 0, again.stdout + again.stderr
