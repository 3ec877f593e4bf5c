"""Inserts that let the database's unique constraints decide what is new."""

import json
import uuid
from datetime import date, datetime
from decimal import Decimal
from functools import cache

import orjson
from django.db import connection
from django.db.models import AutoField, BigAutoField
from psycopg.types.json import Jsonb


def insert_skipping_conflicts(model, objs: list) -> set:
    """Insert rows in one statement, skipping any a unique constraint already holds.

    Returns the primary keys actually inserted. Callers sort `objs` by their unique
    key, so two transactions inserting overlapping sets wait on each other in the
    same order and never deadlock.
    """
    if not objs:
        return set()
    meta = model._meta
    fields = insertable_fields(model)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in objs for f in fields]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608
        f"{', '.join([row] * len(objs))} "
        f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


@cache
def insertable_fields(model) -> tuple:
    """The columns an insert names: every concrete field but a database-made key."""
    return tuple(
        f
        for f in model._meta.concrete_fields
        if not (f.primary_key and isinstance(f, AutoField | BigAutoField))
    )


@cache
def _columns(model) -> str:
    """The quoted column list of an insert (worked out once per model)."""
    quote = connection.ops.quote_name
    return ", ".join(quote(f.column) for f in insertable_fields(model))


def select_list(model, alias: str, overrides: dict[str, str]) -> str:
    """The insertable columns of `model` read from `alias`, in insert order, with some
    columns given as SQL expressions instead (`overrides`, by column name)."""
    return _select_list(model, alias, tuple(overrides.items()))


@cache
def _select_list(model, alias: str, overrides: tuple) -> str:
    quote = connection.ops.quote_name
    chosen = dict(overrides)
    return ", ".join(
        chosen.get(f.column, f"{alias}.{quote(f.column)}") for f in insertable_fields(model)
    )


def json_rows(model, objs: list, *, alias: str, leave_out: tuple = ()) -> tuple[str, str, Jsonb]:
    """`objs` as a row source for `INSERT ... SELECT` that is one parameter, whatever
    the number of rows and columns.

    Returns the quoted column list, `jsonb_populate_recordset(NULL::table, %s) WITH
    ORDINALITY AS alias` (each value read by its column's own type, exactly: decimals
    and times go as text; `alias.ordinality` is each row's place in `objs`), and that
    parameter. A statement with a few parameters and a short text
    is one psycopg converts once and PostgreSQL prepares once; one with a parameter
    per value is converted again on every call.

    Values are the instances' own attributes, as the service set them (fields that
    fill themselves in on save, `auto_now` and the like, do so here); nothing binary:
    the columns in `leave_out` (a binary one, say) are read as NULL, for the caller to
    select from a parameter of their own.
    """
    columns = _columns(model)
    plan = _json_plan(model)
    rows = [
        {
            column: field.pre_save(o, True) if field is not None else o.__dict__[attname]
            for column, attname, field in plan
            if column not in leave_out
        }
        for o in objs
    ]
    table = connection.ops.quote_name(model._meta.db_table)
    source = f"jsonb_populate_recordset(NULL::{table}, %s) WITH ORDINALITY AS {alias}"
    return columns, source, Jsonb(rows, _dumps)


@cache
def _json_plan(model) -> tuple:
    """(column, attribute, the field when its `pre_save` gives the value) per column."""
    return tuple(
        (
            f.column,
            f.attname,
            f if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else None,
        )
        for f in insertable_fields(model)
    )


def _json_default(value):
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} does not go through json_rows.")


def _dumps(value) -> bytes:
    """The rows as JSON text: orjson's (a tenth of the standard library's time), and the
    standard library's for what orjson refuses, an integer beyond 64 bits say."""
    try:
        return orjson.dumps(value, default=_json_default)
    except TypeError:
        return json.dumps(value, default=_json_default).encode()
