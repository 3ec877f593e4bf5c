"""`migrate_schemas` that converges: one organisation's failure never stops the others.

django-tenants' executors stop at the first schema whose migration fails, leaving every
schema after it behind. These run every schema, report each failure with the schema's
name, and end with a non-zero exit naming them all. Each migration is atomic in
PostgreSQL, so a failed schema stays on its previous state; after its data is fixed, a
rerun applies what is left with no manual SQL (CASES C13).
"""

import functools
import os
import sys

from django.core.management.base import CommandError
from django.db import connection
from django_tenants.migration_executors import get_executor as tenants_get_executor
from django_tenants.migration_executors.base import run_migrations
from django_tenants.migration_executors.multiproc import MultiprocessingExecutor, get_pool
from django_tenants.migration_executors.standard import StandardExecutor


def _migrate_one(args, options, codename, schema_name, idx=None, count=None, allow_atomic=True):
    """None on success, else a one-line reason."""
    try:
        run_migrations(
            args, options, codename, schema_name, allow_atomic=allow_atomic, idx=idx, count=count
        )
    except Exception as exc:  # noqa: BLE001 - reported per schema, then raised together
        connection.set_schema_to_public()
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        sys.stderr.write(f"[{schema_name}] migration failed: {reason}\n")
        return reason
    return None


def _raise_for(failures: dict[str, str]) -> None:
    if failures:
        names = ", ".join(sorted(failures))
        details = "; ".join(f"{name}: {reason}" for name, reason in sorted(failures.items()))
        raise CommandError(f"Migrations failed for {names} ({details})")


class ConvergingExecutor(StandardExecutor):
    def run_migrations(self, tenants=None):
        tenants = list(tenants or [])
        if self.PUBLIC_SCHEMA_NAME in tenants:
            # Shared tables first, and nothing else without them.
            run_migrations(self.args, self.options, self.codename, self.PUBLIC_SCHEMA_NAME)
            tenants.remove(self.PUBLIC_SCHEMA_NAME)
        failures = {}
        for idx, schema_name in enumerate(tenants):
            reason = _migrate_one(
                self.args, self.options, self.codename, schema_name, idx, len(tenants)
            )
            if reason:
                failures[schema_name] = reason
        _raise_for(failures)


def _pool_task(args, options, codename, count, indexed):
    idx, schema_name = indexed
    return schema_name, _migrate_one(
        args, options, codename, schema_name, idx, count, allow_atomic=False
    )


class ConvergingParallelExecutor(MultiprocessingExecutor):
    def run_migrations(self, tenants=None):
        tenants = list(tenants or [])
        if self.PUBLIC_SCHEMA_NAME in tenants:
            run_migrations(self.args, self.options, self.codename, self.PUBLIC_SCHEMA_NAME)
            tenants.remove(self.PUBLIC_SCHEMA_NAME)
        if not tenants:
            return
        # The pool forks this process: its connection must not be shared with children.
        connection.close()
        task = functools.partial(_pool_task, self.args, self.options, self.codename, len(tenants))
        with get_pool() as pool:
            results = pool.map(task, enumerate(tenants))
        _raise_for({name: reason for name, reason in results if reason})


def get_executor(codename=None):
    codename = codename or os.environ.get("EXECUTOR", StandardExecutor.codename)
    if codename == StandardExecutor.codename:
        return ConvergingExecutor
    if codename == MultiprocessingExecutor.codename:
        return ConvergingParallelExecutor
    return tenants_get_executor(codename)
