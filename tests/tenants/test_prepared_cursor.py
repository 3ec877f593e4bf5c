"""`prepared_cursor()`: server-side binding that still reads like a Django cursor."""

import contextlib
import uuid

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from tenants.db import prepared_cursor


def _statements(context: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in context.captured_queries if not q["sql"].startswith("SET ")]


@pytest.mark.parametrize("captured", [False, True], ids=["plain", "captured"])
def test_a_unique_violation_through_it_is_djangos_integrity_error(acme, captured):
    capture = CaptureQueriesContext(connection) if captured else contextlib.nullcontext()

    with tenant_context(acme.organisation), capture, prepared_cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE seen (id int PRIMARY KEY)")
        cursor.execute("INSERT INTO seen VALUES (%s)", [1])
        with pytest.raises(IntegrityError) as raised, transaction.atomic():
            cursor.execute("INSERT INTO seen VALUES (%s)", [1])

    assert isinstance(raised.value.__cause__, psycopg.errors.UniqueViolation)


def test_statements_through_it_are_captured_with_their_placeholders(acme):
    with (
        tenant_context(acme.organisation),
        CaptureQueriesContext(connection) as context,
        prepared_cursor() as cursor,
    ):
        cursor.execute("SELECT %s::text || %s::text", ["pre", "pared"])
        value = cursor.fetchone()[0]

    assert value == "prepared"
    assert _statements(context) == ["SELECT %s::text || %s::text"]


def test_its_first_statement_runs_on_the_current_organisations_schema(acme, borealis):
    with tenant_context(acme.organisation), connection.cursor() as cursor:
        cursor.execute("SELECT 1")

    with tenant_context(borealis.organisation), prepared_cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = cursor.fetchone()[0]

    assert schema == "borealis"


def test_a_statement_run_often_enough_is_prepared_on_the_server(acme):
    # A name of its own: the test database's connection outlives this test.
    sql = f"SELECT %s::int AS probe_{uuid.uuid4().hex}"
    counts = []

    with tenant_context(acme.organisation), prepared_cursor() as cursor:
        for run in range(6):
            cursor.execute(sql, [run])
            counts.append(_prepared_like(sql))

    assert counts == [0, 0, 0, 0, 0, 1]


def _prepared_like(sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%" + sql.split(" AS ")[1]],
        )
        return cursor.fetchone()[0]
