"""Inserts that let the database's unique constraints decide what is new."""

from django.db import connection
from django.db.models import AutoField, BigAutoField


def insert_skipping_conflicts(model, objs: list) -> set:
    """Insert rows in one statement, skipping any a unique constraint already holds.

    Returns the primary keys actually inserted. Callers sort `objs` by their unique
    key, so two transactions inserting overlapping sets wait on each other in the
    same order and never deadlock.
    """
    if not objs:
        return set()
    meta = model._meta
    fields = [
        f
        for f in meta.concrete_fields
        if not (f.primary_key and isinstance(f, AutoField | BigAutoField))
    ]
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
