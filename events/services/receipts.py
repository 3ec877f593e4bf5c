"""Raw bodies as they arrived: the webhook-id check, and pruning after retention."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from catalog_integrations.models import Installation
from tenants.models import Organisation

from ..ingest import RawReceipt
from ..models import WebhookReceipt
from .inserts import insert_skipping_conflicts

logger = logging.getLogger(__name__)


def receipt_row(*, installation: Installation, receipt: RawReceipt, now: datetime):
    """The unsaved `WebhookReceipt` that keeps `receipt`."""
    return WebhookReceipt(
        installation=installation,
        webhook_id=receipt.webhook_id or None,
        topic=receipt.topic,
        body=receipt.body,
        order_id=receipt.order_id,
        external_customer_id=receipt.external_customer_id,
        received_at=now,
    )


def receipt_insert(*, installation: Installation, receipt: RawReceipt, now: datetime) -> bool:
    """Keep the body; False when this installation already received this webhook id."""
    row = receipt_row(installation=installation, receipt=receipt, now=now)
    return bool(insert_skipping_conflicts(WebhookReceipt, [row]))


def raw_payloads_prune(now: datetime | None = None) -> dict:
    """Delete receipts older than `RAW_PAYLOAD_RETENTION_DAYS` in every organisation.

    Run daily by the queue's schedule (`events.tasks.raw_payloads_prune`). Each
    organisation is entered by name and the connection is left on public. Once pruned,
    a redelivery of that webhook is caught by the order and refund keys instead.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.RAW_PAYLOAD_RETENTION_DAYS)
    pruned = {}
    try:
        for schema_name in Organisation.objects.clients().values_list("schema_name", flat=True):
            with schema_context(schema_name):
                deleted, _ = WebhookReceipt.objects.filter(received_at__lt=cutoff).delete()
            if deleted:
                pruned[schema_name] = deleted
    finally:
        connection.set_schema_to_public()
    logger.info(
        "raw_payloads_pruned", extra={"organisations": len(pruned), "rows": sum(pruned.values())}
    )
    return pruned
