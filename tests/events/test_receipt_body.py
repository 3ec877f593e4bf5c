"""Raw bodies are stored compressed by the application and read back byte for byte."""

import zlib

from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from events.fields import COMPRESSED_MARK
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
    assert zlib.decompress(stored[len(COMPRESSED_MARK) :]) == body
    assert len(stored) < len(body) // 3


def test_a_body_stored_before_compression_reads_back_unchanged(acme):
    shop = shopify_install(acme)
    legacy = b'{"id": 1, "note": "kept before bodies were compressed"}'
    with tenant_context(acme.organisation), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_webhookreceipt (installation_id, webhook_id, topic, body, "
            "order_id, external_customer_id, received_at) "
            "VALUES (%s, 'legacy', 'orders/paid', %s, '1', '', %s) RETURNING id",
            [shop.pk, legacy, timezone.now()],
        )
        [receipt_id] = cursor.fetchone()
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
