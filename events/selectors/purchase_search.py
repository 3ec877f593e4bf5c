"""Reads for the portal's purchase pages: the filtered list, one purchase, held purchases.

Lists are paged by keyset over (occurred_at, id) and prefetch what each row shows, so a
page costs the same few queries whether it holds 10 rows or 100, and whether the
organisation has a thousand purchases or a million.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import BooleanField, Exists, OuterRef, Prefetch, QuerySet
from django.db.models.expressions import RawSQL

from catalog_integrations.models import Installation
from catalog_integrations.registry import sources

from ..models import Delivery, DeliveryState, Purchase, WebhookReceipt
from .customer_search import customer_id_by_email

# Raw bodies shown on a purchase's page: the order's webhooks, newest first.
RECEIPTS_SHOWN = 10
# Up to this many deliveries in a state, the list filtered by it starts from them.
STATE_DRIVEN_LIMIT = 10_000


@dataclass(frozen=True)
class PurchaseFilters:
    installation_id: uuid.UUID | None = None
    state: str = ""
    kind: str = ""
    shopper: str = ""
    order_id: str = ""
    date_from: date | None = None
    date_to: date | None = None


def source_installations() -> list[Installation]:
    """Installations that send purchases, for the list's filter."""
    keys = [integration.key for integration in sources()]
    return list(Installation.objects.filter(integration__in=keys).order_by("name"))


def _shopper_condition(shopper: str) -> dict:
    """A shopper given as a user id, an email, or their id on a platform."""
    shopper = shopper.strip()
    try:
        return {"customer_id": uuid.UUID(shopper)}
    except ValueError:
        pass
    if "@" in shopper:
        customer = customer_id_by_email(shopper)
        return {"customer_id": customer} if customer else {"pk__in": []}
    return {"external_customer_id": shopper}


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def purchase_search(filters: PurchaseFilters) -> QuerySet[Purchase]:
    """Purchases and adjustments matching the filters, ready to be paged."""
    purchases = Purchase.objects.all()
    if filters.installation_id:
        purchases = purchases.filter(installation_id=filters.installation_id)
    if filters.kind:
        purchases = purchases.filter(kind=filters.kind)
    if filters.order_id:
        purchases = purchases.filter(order_id=filters.order_id.strip().lstrip("#"))
    if filters.shopper:
        purchases = purchases.filter(**_shopper_condition(filters.shopper))
    if filters.date_from:
        purchases = purchases.filter(occurred_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        end = _day_start(filters.date_to + timedelta(days=1))
        purchases = purchases.filter(occurred_at__lt=end)
    if filters.state:
        purchases = purchases.filter(_in_delivery_state(filters.state))
    return purchases


def _in_delivery_state(state: str):
    """Purchases with a delivery in `state`, planned for how common the state is.

    A rare state (dead, held) is read from the delivery state index and the few
    purchases fetched by id; a common one (delivered) by walking the newest purchases,
    which meet one soon. Left to itself PostgreSQL walks the purchases for both, which
    takes a whole-table scan for a state no recent purchase is in. One bounded count
    decides.
    """
    in_state = Delivery.objects.filter(state=state)
    if in_state.order_by()[: STATE_DRIVEN_LIMIT + 1].count() > STATE_DRIVEN_LIMIT:
        return Exists(in_state.filter(purchase_id=OuterRef("pk")))
    # `= ANY(ARRAY(...))` is evaluated once, so the planner cannot turn it into the walk.
    purchases = connection.ops.quote_name(Purchase._meta.db_table)
    deliveries = connection.ops.quote_name(Delivery._meta.db_table)
    return RawSQL(  # noqa: S611 - fixed SQL, the state is a parameter
        f"{purchases}.id = ANY(ARRAY(SELECT purchase_id FROM {deliveries} WHERE state = %s))",  # noqa: S608
        [state],
        output_field=BooleanField(),
    )


def with_row_details(purchases: QuerySet[Purchase]) -> QuerySet[Purchase]:
    """What a list row shows: source, shopper and each delivery's state (one more query)."""
    deliveries = Delivery.objects.select_related("destination").order_by("destination__name")
    return purchases.select_related("installation", "customer").prefetch_related(
        Prefetch("deliveries", queryset=deliveries)
    )


def purchase_detail(*, purchase_id: uuid.UUID) -> Purchase | None:
    """One purchase with its source, shopper, parent, adjustments and deliveries."""
    deliveries = Delivery.objects.select_related("destination").order_by("destination__name")
    adjustments = Purchase.objects.order_by("occurred_at", "id")
    return (
        Purchase.objects.select_related("installation", "customer", "parent")
        .prefetch_related(
            Prefetch("adjustments", queryset=adjustments),
            Prefetch("deliveries", queryset=deliveries),
        )
        .filter(pk=purchase_id)
        .first()
    )


@dataclass(frozen=True)
class RawPayload:
    topic: str
    received_at: datetime
    data: object | None
    text: str


def raw_payloads(purchase: Purchase) -> list[RawPayload]:
    """The bodies the source sent about this purchase's order, while they are kept."""
    if not purchase.order_id:
        return []
    receipts = WebhookReceipt.objects.filter(
        installation_id=purchase.installation_id, order_id=purchase.order_id
    ).order_by("-received_at", "-id")[:RECEIPTS_SHOWN]
    payloads = []
    for receipt in receipts:
        text = bytes(receipt.body or b"").decode("utf-8", errors="replace")
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        payloads.append(RawPayload(receipt.topic, receipt.received_at, data, text))
    return payloads


# Held purchases ------------------------------------------------------------------------


def held_deliveries() -> QuerySet[Delivery]:
    """Deliveries waiting for their shopper's identity, paged by (next_attempt_at, id).

    `next_attempt_at` is when the hold ends; the (state, next_attempt_at) index serves
    both the filter and the order.
    """
    return Delivery.objects.select_related(
        "purchase", "purchase__installation", "destination"
    ).filter(state=DeliveryState.AWAITING_IDENTITY, next_attempt_at__isnull=False)


@dataclass
class HeldPurchase:
    purchase: Purchase
    deliveries: list[Delivery]

    @property
    def hold_ends_at(self) -> datetime | None:
        return min((d.next_attempt_at for d in self.deliveries if d.next_attempt_at), default=None)


def group_by_purchase(deliveries: list[Delivery]) -> list[HeldPurchase]:
    grouped: dict[uuid.UUID, HeldPurchase] = {}
    for delivery in deliveries:
        held = grouped.setdefault(delivery.purchase_id, HeldPurchase(delivery.purchase, []))
        held.deliveries.append(delivery)
    return list(grouped.values())


def held_purchase(*, purchase_id: uuid.UUID) -> HeldPurchase | None:
    deliveries = list(held_deliveries().filter(purchase_id=purchase_id))
    return group_by_purchase(deliveries)[0] if deliveries else None
