"""Recording purchases and refunds: one service, one transaction.

`purchase_record` stores what a source sent exactly once. Idempotency rests on the
database's unique constraints, not on looking first: the webhook id per installation
(`WebhookReceipt`) and `(installation, kind, dedupe_key)` per purchase. Rows are
inserted with `ON CONFLICT DO NOTHING`, so two copies racing each other end in one row
and two successful answers.
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.actors import Actor
from accounts.errors import FieldError
from catalog_integrations.models import Installation
from tenants.models import Organisation

from ..ingest import OrderStatusChange, PurchaseEvent, RawReceipt
from ..models import Customer, Delivery, Identity, Purchase, PurchaseKind
from .deliveries import (
    Audience,
    active_destination_ids,
    deliveries_build,
    dispatch_after_commit,
    work_due_mark,
)
from .inserts import insert_skipping_conflicts
from .receipts import receipt_insert

logger = logging.getLogger(__name__)

_IDENTITIES_SQL = (
    f"SELECT external_id, customer_id FROM {Identity._meta.db_table} "  # noqa: S608
    "WHERE installation_id = %s AND external_id = ANY(%s)"
)

CREATED = "created"
UNCHANGED = "unchanged"
ERROR = "error"


@dataclass(frozen=True)
class RecordOutcome:
    """What became of one event: `created`, `unchanged` (already stored) or `error`."""

    status: str
    purchase_id: uuid.UUID | None = None
    errors: tuple[FieldError, ...] = ()


@dataclass
class RecordResult:
    # The webhook id was seen before: nothing at all was done.
    duplicate_delivery: bool = False
    outcomes: list[RecordOutcome] = field(default_factory=list)
    status_updated: int = 0

    @property
    def created(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == CREATED)


def purchase_record(
    *,
    organisation: Organisation,
    installation: Installation,
    events: Sequence[PurchaseEvent],
    receipt: RawReceipt | None = None,
    status_change: OrderStatusChange | None = None,
    actor: Actor,
    now=None,
) -> RecordResult:
    """Store purchases and refunds from one source delivery, with their deliveries.

    In one transaction: the raw receipt (a known webhook id ends it here), the purchases
    not yet stored (the first event for a key wins), a refund's link to its purchase,
    the shopper found through identities, one delivery per active destination, an
    order's new status, and the organisation marked as having work due. Dispatch is
    queued after commit. Outcomes follow `events`' order.
    """
    now = now or timezone.now()
    result = RecordResult(outcomes=[RecordOutcome(ERROR)] * len(events))
    with transaction.atomic():
        # Events naming a user that does not exist are refused before anything is
        # written: when none is left, the delivery leaves no trace at all.
        known_users = _known_users(events)
        accepted = []
        for index, event in enumerate(events):
            if event.user_id is not None and event.user_id not in known_users:
                result.outcomes[index] = RecordOutcome(
                    ERROR, errors=(FieldError("user_id", "No user has this id."),)
                )
            else:
                accepted.append(index)
        if events and not accepted and status_change is None:
            return result

        if receipt is not None and not receipt_insert(
            installation=installation, receipt=receipt, now=now
        ):
            logger.info(
                "webhook_redelivered",
                extra={"installation": str(installation.pk), "topic": receipt.topic},
            )
            return RecordResult(duplicate_delivery=True)

        identities = _identities(installation, events)
        parents = _parents(installation, events)
        candidates: dict[tuple[str, str], Purchase] = {}
        positions: dict[tuple[str, str], list[int]] = {}
        for index in accepted:
            event = events[index]
            key = (event.kind, event.dedupe_key)
            positions.setdefault(key, []).append(index)
            if key not in candidates:
                candidates[key] = _purchase_from(
                    event, installation, identities, parents.get(event.order_id), now
                )

        ordered = [candidates[key] for key in sorted(candidates)]
        inserted = insert_skipping_conflicts(Purchase, ordered)
        stored_ids = {key: p.pk for key, p in candidates.items() if p.pk in inserted}
        stored_ids.update(_existing_ids(installation, set(candidates) - set(stored_ids)))
        for key, indexes in positions.items():
            purchase_id = stored_ids.get(key)
            new = key in candidates and candidates[key].pk in inserted
            for position, index in enumerate(indexes):
                first = position == 0 and new
                result.outcomes[index] = RecordOutcome(CREATED if first else UNCHANGED, purchase_id)

        new_purchases = [p for p in ordered if p.pk in inserted]
        if new_purchases:
            _deliveries_create(organisation, new_purchases, now)
        if status_change is not None:
            result.status_updated = _status_change(installation, status_change)

    logger.info(
        "purchases_recorded",
        extra={
            "installation": str(installation.pk),
            "actor": actor.kind,
            "created_count": result.created,
            "events": len(events),
        },
    )
    return result


def _known_users(events: Sequence[PurchaseEvent]) -> set:
    wanted = {event.user_id for event in events if event.user_id is not None}
    if not wanted:
        return set()
    return set(Customer.objects.filter(pk__in=wanted).values_list("pk", flat=True))


def _identities(installation: Installation, events: Sequence[PurchaseEvent]) -> dict:
    """Platform customer id -> user id, for the shoppers identities name."""
    wanted = sorted(
        {e.external_customer_id for e in events if e.external_customer_id and not e.user_id}
    )
    if not wanted:
        return {}
    # Raw, as on every webhook the ORM's query building cost more than the query.
    with connection.cursor() as cursor:
        cursor.execute(_IDENTITIES_SQL, [installation.pk, wanted])
        return dict(cursor.fetchall())


def _parents(installation: Installation, events: Sequence[PurchaseEvent]) -> dict:
    """The purchases refunds adjust, by order id."""
    wanted = {e.order_id for e in events if e.kind == PurchaseKind.REFUND and e.order_id}
    if not wanted:
        return {}
    rows = Purchase.objects.filter(
        installation=installation, kind=PurchaseKind.PURCHASE, order_id__in=wanted
    ).order_by("received_at", "pk")
    parents: dict[str, Purchase] = {}
    for row in rows:
        parents.setdefault(row.order_id, row)
    return parents


def _purchase_from(
    event: PurchaseEvent,
    installation: Installation,
    identities: dict,
    parent: Purchase | None,
    now,
) -> Purchase:
    customer_id = event.user_id or identities.get(event.external_customer_id)
    external_customer_id = event.external_customer_id
    amount, currency = event.amount, event.currency
    if parent is not None:
        # A refund reaches the same shopper as its purchase, in its shop's currency.
        customer_id = customer_id or parent.customer_id
        external_customer_id = external_customer_id or parent.external_customer_id
        amount, currency = _in_shop_money(event, parent)
    return Purchase(
        pk=uuid.uuid4(),
        installation=installation,
        kind=event.kind,
        parent=parent,
        dedupe_key=event.dedupe_key,
        event_id=event.event_id,
        order_id=event.order_id,
        customer_id=customer_id,
        external_customer_id=external_customer_id,
        amount=amount,
        currency=currency,
        presentment_amount=event.presentment_amount,
        presentment_currency=event.presentment_currency,
        occurred_at=event.occurred_at,
        received_at=now,
        status=event.status,
        is_test=event.is_test,
        items=[item.as_json() for item in event.items],
        properties=dict(event.properties),
    )


def _in_shop_money(event: PurchaseEvent, parent: Purchase) -> tuple[Decimal, str]:
    """A refund paid back in the order's presentment currency, converted at the order's
    own rate into the shop's currency (refund transactions carry only the former)."""
    if (
        event.currency == parent.currency
        or event.currency != parent.presentment_currency
        or not parent.presentment_amount
    ):
        return event.amount, event.currency
    rate = parent.amount / parent.presentment_amount
    return (event.amount * rate).quantize(Decimal("0.01")), parent.currency


def _existing_ids(installation: Installation, keys: set) -> dict:
    if not keys:
        return {}
    match = Q()
    for kind, dedupe_key in keys:
        match |= Q(kind=kind, dedupe_key=dedupe_key)
    rows = Purchase.objects.filter(match, installation=installation)
    return {(kind, key): pk for kind, key, pk in rows.values_list("kind", "dedupe_key", "pk")}


def _deliveries_create(organisation: Organisation, purchases: list[Purchase], now) -> None:
    destination_ids = active_destination_ids()
    if not destination_ids:
        return
    fixed = _parents_released_ids([p.parent_id for p in purchases if p.parent_id])
    built: list[Delivery] = []
    for purchase in purchases:
        built += deliveries_build(
            schema_name=organisation.schema_name,
            purchase=purchase,
            audience=Audience(purchase.customer_id, purchase.external_customer_id),
            destination_ids=destination_ids,
            fixed_distinct_ids=fixed.get(purchase.parent_id),
            now=now,
        )
    insert_skipping_conflicts(Delivery, built)
    work_due_mark(organisation=organisation, due_at=min(d.next_attempt_at for d in built))
    dispatch_after_commit(
        schema_name=organisation.schema_name,
        destination_ids=[d.destination_id for d in built if d.distinct_id is not None],
    )


def _parents_released_ids(parent_ids: list) -> dict:
    """parent id -> {destination id: distinct_id} for parents' released deliveries."""
    if not parent_ids:
        return {}
    rows = Delivery.objects.filter(
        purchase_id__in=parent_ids, distinct_id__isnull=False
    ).values_list("purchase_id", "destination_id", "distinct_id")
    released: dict = {}
    for purchase_id, destination_id, distinct_id in rows:
        released.setdefault(purchase_id, {})[destination_id] = distinct_id
    return released


def _status_change(installation: Installation, change: OrderStatusChange) -> int:
    return Purchase.objects.filter(
        installation=installation, kind=PurchaseKind.PURCHASE, order_id=change.order_id
    ).update(status=change.status)
