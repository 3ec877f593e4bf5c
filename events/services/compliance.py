"""Privacy requests a platform passes on: record data requests, carry out redactions.

Erasing keeps the figures (amounts, currencies, items, times) and removes what ties
them to a person: identities, the platform customer id, the link to a user, the
`distinct_id` of deliveries not yet in flight, and raw bodies. A user (`Customer`) is
the organisation's own record, created through its users API, and stays; only its
link to this installation goes.
"""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from accounts.actors import Actor
from accounts.services import audit_record
from catalog_integrations.models import Installation
from tenants.models import Organisation

from ..ingest import RawReceipt
from ..models import (
    ComplianceRequest,
    ComplianceTopic,
    Delivery,
    DeliveryState,
    Identity,
    Purchase,
    WebhookReceipt,
)
from .deliveries import dispatch_after_commit, work_due_mark
from .receipts import receipt_insert

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ComplianceResult:
    duplicate_delivery: bool
    request: ComplianceRequest | None = None
    erased_purchases: int = 0
    erased_identities: int = 0


def compliance_request_record(
    *,
    organisation: Organisation,
    installation: Installation,
    topic: str,
    external_customer_id: str = "",
    order_ids: list[str] | None = None,
    request_id: str = "",
    receipt: RawReceipt | None = None,
    actor: Actor,
) -> ComplianceResult:
    """Record one privacy request; a redaction is carried out in the same transaction."""
    topic = ComplianceTopic(topic)
    order_ids = list(order_ids or [])
    now = timezone.now()
    with transaction.atomic():
        if receipt is not None and not receipt_insert(
            installation=installation, receipt=receipt, now=now
        ):
            return ComplianceResult(duplicate_delivery=True)

        request = ComplianceRequest.objects.create(
            installation=installation,
            topic=topic,
            request_id=request_id,
            external_customer_id=external_customer_id,
            order_ids=order_ids,
            received_at=now,
            completed_at=None if topic == ComplianceTopic.DATA_REQUEST else now,
        )
        erased = (0, 0)
        if topic == ComplianceTopic.CUSTOMER_REDACT:
            erased = _erase(
                organisation,
                installation,
                external_customer_id=external_customer_id,
                order_ids=order_ids,
                now=now,
            )
        elif topic == ComplianceTopic.SHOP_REDACT:
            erased = _erase(organisation, installation, whole_shop=True, now=now)
        audit_record(
            actor=actor,
            action=f"compliance.{topic.value.replace('/', '_')}",
            target=installation,
            changes={"purchases_anonymised": erased[0], "identities_erased": erased[1]},
        )

    logger.info(
        "compliance_request_recorded",
        extra={"installation": str(installation.pk), "topic": topic.value},
    )
    return ComplianceResult(False, request, *erased)


def _erase(
    organisation: Organisation,
    installation: Installation,
    *,
    external_customer_id: str = "",
    order_ids: list[str] | None = None,
    whole_shop: bool = False,
    now,
) -> tuple[int, int]:
    purchases = Purchase.objects.filter(installation=installation)
    identities = Identity.objects.filter(installation=installation)
    # Privacy requests' own receipts hold no body; they stay to catch redeliveries.
    receipts = WebhookReceipt.objects.filter(installation=installation).exclude(
        topic__in=ComplianceTopic.values
    )
    if not whole_shop:
        about = Q(external_customer_id=external_customer_id)
        if order_ids:
            about |= Q(order_id__in=order_ids)
        purchases = purchases.filter(about)
        receipts = receipts.filter(about)
        identities = identities.filter(external_id=external_customer_id)

    affected = Delivery.objects.filter(purchase__in=purchases.values("pk"))
    held = affected.filter(state=DeliveryState.AWAITING_IDENTITY)
    held_destinations = set(held.values_list("destination_id", flat=True))
    # Held ones go out now, anonymously: there is no one left to wait for.
    occurred = Purchase.objects.filter(pk=OuterRef("purchase_id")).values("occurred_at")[:1]
    held.update(
        state=DeliveryState.PENDING,
        distinct_id="",
        event_time=Subquery(occurred),
        next_attempt_at=now,
        updated_at=now,
    )
    affected.exclude(state=DeliveryState.IN_FLIGHT).filter(distinct_id__gt="").update(
        distinct_id="", updated_at=now
    )
    if held_destinations:
        work_due_mark(organisation=organisation, due_at=now)
        dispatch_after_commit(
            schema_name=organisation.schema_name, destination_ids=held_destinations
        )
    anonymised = purchases.update(customer=None, external_customer_id="")
    receipts.delete()
    erased_identities, _ = identities.delete()
    if whole_shop:
        ComplianceRequest.objects.filter(installation=installation).update(
            external_customer_id="", order_ids=[]
        )
    return anonymised, erased_identities
