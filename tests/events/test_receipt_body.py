"""Raw bodies are stored compressed by the application and read back byte for byte."""

import zlib

import zstandard
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from events.fields import COMPRESSED_MARK, ZLIB_MARK
from events.models import WebhookReceipt
from tests.events.ingest_support import post_sample, sample, shopify_install


def _stored_body(org, receipt_id) -> bytes:
    with tenant_context(org.organisation), connection.cursor() as cursor:
        cursor.execute("SELECT body FROM events_webhookreceipt WHERE id = %s", [receipt_id])
        return bytes(cursor.fetchone()[0])


def test_a_webhook_body_is_stored_compressed_and_read_back_as_it_came(acme):
    shop = shopify_install(acme)
    body, _ = sample("orders-paid")

    post_sample(acme.client(), shop, "orders-paid")

    with tenant_context(acme.organisation):
        receipt = WebhookReceipt.objects.get()
    stored = _stored_body(acme, receipt.pk)
    assert receipt.body == body
    assert stored.startswith(COMPRESSED_MARK)
    assert zstandard.decompress(stored[len(COMPRESSED_MARK) :]) == body
    assert len(stored) < len(body) // 4


def _insert_raw(org, shop, webhook_id, stored: bytes):
    with tenant_context(org.organisation), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_webhookreceipt (installation_id, webhook_id, topic, body, "
            "order_id, external_customer_id, received_at) "
            "VALUES (%s, %s, 'orders/paid', %s, '1', '', %s) RETURNING id",
            [shop.pk, webhook_id, stored, timezone.now()],
        )
        return cursor.fetchone()[0]


def test_a_body_stored_zlib_compressed_reads_back_unchanged(acme):
    shop = shopify_install(acme)
    body, _ = sample("orders-paid")
    receipt_id = _insert_raw(acme, shop, "zlib", ZLIB_MARK + zlib.compress(body, 1))

    with tenant_context(acme.organisation):
        receipt = WebhookReceipt.objects.get(pk=receipt_id)

    assert receipt.body == body


def test_a_large_order_body_is_kept_in_the_row_not_in_the_toast_table(acme, borealis):
    shop = shopify_install(acme)
    post_sample(acme.client(), shop, "orders-paid")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname, c.reloptions, t.oid::regclass::text FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_class t ON t.oid = c.reltoastrelid "
            "WHERE c.relname = 'events_webhookreceipt' AND n.nspname IN ('acme', 'borealis') "
            "ORDER BY n.nspname"
        )
        tables = cursor.fetchall()
        cursor.execute(f"SELECT count(*) FROM {tables[0][2]}")  # noqa: S608
        [toasted] = cursor.fetchone()

    assert [(schema, options) for schema, options, _ in tables] == [
        ("acme", ["toast_tuple_target=8160"]),
        ("borealis", ["toast_tuple_target=8160"]),
    ]
    assert toasted == 0


def test_a_body_stored_before_compression_reads_back_unchanged(acme):
    shop = shopify_install(acme)
    legacy = b'{"id": 1, "note": "kept before bodies were compressed"}'
    receipt_id = _insert_raw(acme, shop, "legacy", legacy)

    with tenant_context(acme.organisation):
        receipt = WebhookReceipt.objects.get(pk=receipt_id)

    assert receipt.body == legacy


def test_an_erased_body_stays_empty(acme):
    shop = shopify_install(acme)
    post_sample(acme.client(), shop, "orders-paid")

    with tenant_context(acme.organisation):
        WebhookReceipt.objects.update(body=None)
        receipt = WebhookReceipt.objects.get()

    assert receipt.body is None
    assert _stored_body_is_null(acme, receipt.pk)


def _stored_body_is_null(org, receipt_id) -> bool:
    with tenant_context(org.organisation), connection.cursor() as cursor:
        cursor.execute("SELECT body IS NULL FROM events_webhookreceipt WHERE id = %s", [receipt_id])
        return cursor.fetchone()[0]


def test_every_organisation_keeps_bodies_out_of_line_uncompressed_by_the_database(acme, borealis):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname, a.attstorage FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'events_webhookreceipt' AND a.attname = 'body' "
            "AND n.nspname IN ('acme', 'borealis') ORDER BY n.nspname"
        )
        storage = cursor.fetchall()

    assert storage == [("acme", "e"), ("borealis", "e")]
