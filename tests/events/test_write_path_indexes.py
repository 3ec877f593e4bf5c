"""Every index on the tables a webhook writes is paid for on each write: none repeats
another's leading columns."""

from django.db import connection

WRITE_PATH = ("events_webhookreceipt", "events_purchase", "events_delivery")


def _indexes(schema: str) -> dict[str, list[tuple[str, tuple, bool]]]:
    """Per table: (index name, key columns, whether unique or partial)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, i.relname,
                   ARRAY(SELECT a.attname || ':' || (x.ord <= ix.indnkeyatts)::text
                         FROM unnest(ix.indkey) WITH ORDINALITY AS x(attnum, ord)
                         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.attnum
                         ORDER BY x.ord),
                   ix.indisunique OR ix.indpred IS NOT NULL,
                   pg_get_indexdef(ix.indexrelid) LIKE '%%_pattern_ops%%'
            FROM pg_index ix
            JOIN pg_class i ON i.oid = ix.indexrelid
            JOIN pg_class t ON t.oid = ix.indrelid
            WHERE t.relnamespace = %s::regnamespace AND t.relname = ANY(%s)
            """,
            [schema, list(WRITE_PATH)],
        )
        found: dict = {}
        for table, name, columns, special, pattern_ops in cursor.fetchall():
            keys = tuple(c.split(":")[0] for c in columns if c.endswith(":true"))
            found.setdefault(table, []).append((name, keys, special, pattern_ops))
        return found


def test_no_index_on_the_write_path_repeats_the_leading_columns_of_another(acme, borealis):
    for schema in ("acme", "borealis"):
        tables = _indexes(schema)
        assert sorted(tables) == sorted(WRITE_PATH)
        for table, indexes in tables.items():
            for name, keys, special, pattern_ops in indexes:
                assert not pattern_ops, f"{schema}.{name}: prefix-match index"
                if special:
                    continue
                covering = [
                    other
                    for other, other_keys, _, _ in indexes
                    if other != name and other_keys[: len(keys)] == keys
                ]
                assert covering == [], f"{schema}.{table}.{name} repeats {covering}"


def test_the_write_path_keeps_the_indexes_its_readers_need(acme):
    tables = _indexes("acme")
    keys = {table: sorted(k for _, k, _, _ in indexes) for table, indexes in tables.items()}

    assert keys["events_webhookreceipt"] == [
        ("id",),
        ("installation_id", "order_id"),
        ("installation_id", "webhook_id"),
        ("received_at",),
    ]
    assert keys["events_purchase"] == [
        ("customer_id", "occurred_at"),
        ("external_customer_id",),
        ("id",),
        ("installation_id", "external_customer_id"),
        ("installation_id", "kind", "dedupe_key"),
        ("installation_id", "occurred_at"),
        ("occurred_at",),
        ("order_id",),
        ("parent_id",),
        ("received_at",),
    ]
    assert keys["events_delivery"] == [
        ("created_at",),
        ("destination_id", "state", "next_attempt_at"),
        ("id",),
        ("purchase_id", "destination_id"),
        ("state", "next_attempt_at"),
    ]
