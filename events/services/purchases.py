"""Recording purchases and refunds: one service, one transaction.

`purchase_record` stores what a source sent exactly once. Idempotency rests on the
database's unique constraints, not on looking first: the webhook id per installation
(`WebhookReceipt`) and `(installation, kind, dedupe_key)` per purchase. Rows are
inserted with `ON CONFLICT DO NOTHING`, so two copies racing each other end in one row
and two successful answers.

Everything it writes goes as one statement (`_write`), which also finds the shoppers
through their identities: with the installation read by the endpoint, a webhook is two
database round trips, and on this path round trips, not rows, set the pace.
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from accounts.actors import Actor
from accounts.errors import FieldError
from catalog_integrations.models import Installation
from catalog_integrations.sources import (
    ACTIVE_DESTINATION_IDS_SQL,
    ROW_VERSION_SQL,
    IngestSource,
    SourceChanged,
    destination_keys,
)
from tenants.db import prepared_cursor
from tenants.models import Organisation, WorkDue

from ..ingest import OrderStatusChange, PurchaseEvent, RawReceipt
from ..models import (
    Customer,
    Delivery,
    DeliveryState,
    Identity,
    Purchase,
    PurchaseKind,
    WebhookReceipt,
)
from .deliveries import (
    Audience,
    deliveries_build,
    dispatch_after_commit,
)
from .inserts import json_rows, select_list
from .receipts import receipt_row

logger = logging.getLogger(__name__)

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
    source: IngestSource,
    events: Sequence[PurchaseEvent],
    receipt: RawReceipt | None = None,
    status_change: OrderStatusChange | None = None,
    actor: Actor,
    now=None,
) -> RecordResult:
    """Store purchases and refunds from one source delivery, with their deliveries.

    In one transaction: the raw receipt (a known webhook id ends it there), the
    purchases not yet stored (the first event for a key wins), a refund's link to its
    purchase, the shopper found through identities, one delivery per active
    destination, an order's new status, and the organisation marked as having work
    due. Dispatch is queued after commit. Outcomes follow `events`' order.

    Deliveries go to the destinations read with the source. From a remembered source,
    nothing is written unless its installation and destinations are still as read:
    `SourceChanged` (see `catalog_integrations.sources`).
    """
    installation = source.installation
    now = now or timezone.now()
    result = RecordResult(outcomes=[RecordOutcome(ERROR)] * len(events))
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
        if source.remembered:
            # Nothing to write, so nothing checks the caller's source: it reads afresh.
            raise SourceChanged(str(installation.pk))
        return result

    parents = _parents(installation, events)
    candidates: dict[tuple[str, str], Purchase] = {}
    positions: dict[tuple[str, str], list[int]] = {}
    for index in accepted:
        event = events[index]
        key = (event.kind, event.dedupe_key)
        positions.setdefault(key, []).append(index)
        if key not in candidates:
            candidates[key] = _purchase_from(event, installation, parents.get(event.order_id), now)
    # Sorted by unique key: racing writers then wait on each other in the same order.
    ordered = [candidates[key] for key in sorted(candidates)]
    deliveries = _deliveries_for(organisation, ordered, source.destination_ids, now)

    kept = receipt and receipt_row(installation=installation, receipt=receipt, now=now)
    written = _write(
        organisation=organisation,
        source=source,
        receipt=kept,
        purchases=ordered,
        deliveries=deliveries,
        status_change=status_change,
    )
    if not written.guard_held:
        raise SourceChanged(str(installation.pk))
    if written.duplicate_delivery:
        logger.info(
            "webhook_redelivered",
            extra={"installation": str(installation.pk), "topic": receipt.topic},
        )
        return RecordResult(duplicate_delivery=True)

    inserted = written.inserted
    stored_ids = {key: p.pk for key, p in candidates.items() if p.pk in inserted}
    stored_ids.update(_existing_ids(installation, set(candidates) - set(stored_ids)))
    for key, indexes in positions.items():
        new = candidates[key].pk in inserted
        for position, index in enumerate(indexes):
            status = CREATED if position == 0 and new else UNCHANGED
            result.outcomes[index] = RecordOutcome(status, stored_ids.get(key))
    result.status_updated = written.status_updated
    dispatch_after_commit(schema_name=organisation.schema_name, destination_ids=written.released_to)

    logger.debug(
        "purchases_recorded",
        extra={
            "installation": str(installation.pk),
            "actor": actor.kind,
            "created_count": result.created,
            "events": len(events),
        },
    )
    return result


def _deliveries_for(
    organisation: Organisation, purchases: list[Purchase], destination_ids: list, now
) -> list[Delivery]:
    """Deliveries for every candidate; the write keeps those of purchases it inserts.

    A shopper with a platform id but no user yet gets held deliveries here; the write
    releases them at once when an identity names that shopper (see `_write`).
    """
    if not destination_ids or not purchases:
        return []
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
    return built


# The statement texts `_write` has built: one per combination of its optional steps.
_STATEMENTS: dict[str, str] = {}
_STATEMENT_SHAPES = 2**6


@dataclass(frozen=True)
class _Written:
    guard_held: bool
    duplicate_delivery: bool
    inserted: set
    status_updated: int
    # Destinations given deliveries that are due now (not held for an identity).
    released_to: list


def _write(
    *,
    organisation: Organisation,
    source: IngestSource,
    receipt: WebhookReceipt | None,
    purchases: list[Purchase],
    deliveries: list[Delivery],
    status_change: OrderStatusChange | None,
) -> _Written:
    """Everything `purchase_record` writes, as one statement (so one transaction).

    Each step runs only if the one before it wrote: no purchase without a new receipt,
    no delivery without its new purchase, no work due without a delivery. The order's
    status changes only with a new receipt. Foreign keys are checked at commit. From a
    remembered source, nothing at all is written unless the installation's row and the
    active destinations are still as read (`guard_held` says whether they were).

    A purchase whose shopper has a platform id but no user is matched here through the
    installation's identities, in the statement's snapshot, and its held deliveries go
    out at once as that user's, just as `deliveries_release_for_identities` releases
    them when the identity comes later.
    """
    quote = connection.ops.quote_name
    steps, params = [], []

    installation = source.installation
    if source.remembered:
        steps.append(
            f"guard AS (SELECT FROM {quote(Installation._meta.db_table)} AS i "  # noqa: S608
            f"WHERE i.id = %s AND {ROW_VERSION_SQL} = %s "
            f"AND ARRAY({ACTIVE_DESTINATION_IDS_SQL}) = %s::uuid[])"
        )
        params += [
            installation.pk,
            source.version,
            destination_keys(),
            list(source.destination_ids),
        ]
    else:
        steps.append("guard AS (SELECT)")

    if receipt is not None:
        # The body goes as bytes of its own, prepared by its field (compressed).
        columns, rows, values = json_rows(WebhookReceipt, [receipt], alias="r", leave_out=("body",))
        chosen = select_list(WebhookReceipt, "r", {"body": "%s"})
        steps.append(
            f"receipt AS (INSERT INTO {quote(WebhookReceipt._meta.db_table)} ({columns}) "  # noqa: S608
            f"SELECT {chosen} FROM {rows} WHERE EXISTS (SELECT FROM guard) "
            "ON CONFLICT DO NOTHING RETURNING 1 AS new)"
        )
        params += [_BODY_FIELD.get_db_prep_save(receipt.body, connection), values]
    else:
        steps.append("receipt AS (SELECT 1 AS new WHERE EXISTS (SELECT FROM guard))")

    shoppers = sorted({p.external_customer_id for p in purchases if _unmatched(p)})
    if shoppers:
        steps.append(
            f"shopper AS (SELECT external_id, customer_id FROM {quote(Identity._meta.db_table)} "  # noqa: S608
            "WHERE installation_id = %s AND external_id = ANY(%s))"
        )
        params += [installation.pk, shoppers]
    else:
        steps.append(
            "shopper AS (SELECT NULL AS external_id, NULL::uuid AS customer_id WHERE false)"
        )

    if purchases:
        columns, rows, values = json_rows(Purchase, purchases, alias="p")
        chosen = select_list(
            Purchase, "p", {"customer_id": "COALESCE(p.customer_id, shopper.customer_id)"}
        )
        steps.append(
            f"purchase AS (INSERT INTO {quote(Purchase._meta.db_table)} ({columns}) "  # noqa: S608
            f"SELECT {chosen} FROM {rows} LEFT JOIN shopper "
            "ON p.customer_id IS NULL AND shopper.external_id = p.external_customer_id "
            "WHERE EXISTS (SELECT FROM receipt) "
            # In the caller's order whatever the join did: racing writers must take
            # the unique keys' locks in one order (see purchase_record).
            "ORDER BY p.ordinality "
            "ON CONFLICT DO NOTHING RETURNING id, customer_id, occurred_at)"
        )
        params.append(values)
    else:
        steps.append(
            "purchase AS (SELECT NULL::uuid AS id, NULL::uuid AS customer_id, "
            "NULL::timestamptz AS occurred_at WHERE false)"
        )

    if deliveries:
        columns, rows, values = json_rows(Delivery, deliveries, alias="d")
        chosen = select_list(
            Delivery,
            "d",
            {
                "state": "CASE WHEN d.released THEN %s ELSE d.state END",
                "distinct_id": "CASE WHEN d.released THEN d.shopper::text ELSE d.distinct_id END",
                "event_time": "CASE WHEN d.released THEN d.ordered_at ELSE d.event_time END",
                "next_attempt_at": (
                    "CASE WHEN d.released THEN d.created_at ELSE d.next_attempt_at END"
                ),
            },
        )
        work_due = f"{quote(get_public_schema_name())}.{quote(WorkDue._meta.db_table)}"
        steps.append(
            f"delivery AS (INSERT INTO {quote(Delivery._meta.db_table)} ({columns}) "  # noqa: S608
            f"SELECT {chosen} FROM (SELECT d.*, purchase.customer_id AS shopper, "
            "purchase.occurred_at AS ordered_at, "
            "d.state = %s AND purchase.customer_id IS NOT NULL AS released "
            f"FROM {rows} JOIN purchase ON purchase.id = d.purchase_id) AS d "
            "RETURNING destination_id, distinct_id, next_attempt_at)"
        )
        params += [DeliveryState.PENDING, DeliveryState.AWAITING_IDENTITY, values]
        # Kept only if earlier; the organisation's row stays locked until commit either
        # way, so a sweep that locks it before clearing it sees these deliveries (see
        # `work_due_mark`).
        steps.append(
            f"work AS (INSERT INTO {work_due} AS w (organisation_id, due_at) "  # noqa: S608
            "SELECT %s, min(next_attempt_at) FROM delivery HAVING count(*) > 0 "
            "ON CONFLICT (organisation_id) "
            "DO UPDATE SET due_at = EXCLUDED.due_at WHERE w.due_at > EXCLUDED.due_at)"
        )
        params.append(organisation.pk)
    else:
        steps.append(
            "delivery AS (SELECT NULL::uuid AS destination_id, NULL AS distinct_id WHERE false)"
        )

    if status_change is not None:
        steps.append(
            f"status AS (UPDATE {quote(Purchase._meta.db_table)} SET status = %s "  # noqa: S608
            "WHERE installation_id = %s AND kind = %s AND order_id = %s "
            "AND EXISTS (SELECT FROM receipt) RETURNING 1)"
        )
        params += [
            status_change.status,
            installation.pk,
            PurchaseKind.PURCHASE,
            status_change.order_id,
        ]
    else:
        steps.append("status AS (SELECT 1 WHERE false)")

    sql = (
        # Table and column names are the models' own; every value is a parameter.
        "WITH " + ", ".join(steps) + " SELECT EXISTS (SELECT FROM guard), "  # noqa: S608
        "EXISTS (SELECT FROM receipt), "
        "ARRAY(SELECT id FROM purchase), (SELECT count(*) FROM status), "
        "ARRAY(SELECT DISTINCT destination_id FROM delivery WHERE distinct_id IS NOT NULL)"
    )
    # One text object per shape: psycopg then keeps the types it worked out for the
    # parameters the last time the same cursor ran the same text.
    if len(_STATEMENTS) > _STATEMENT_SHAPES:
        _STATEMENTS.clear()
    sql = _STATEMENTS.setdefault(sql, sql)
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        guard_held, receipt_new, inserted, status_updated, released_to = cursor.fetchone()
    return _Written(guard_held, not receipt_new, set(inserted), status_updated, released_to)


def _unmatched(purchase: Purchase) -> bool:
    return purchase.customer_id is None and bool(purchase.external_customer_id)


def _known_users(events: Sequence[PurchaseEvent]) -> set:
    wanted = {event.user_id for event in events if event.user_id is not None}
    if not wanted:
        return set()
    return set(Customer.objects.filter(pk__in=wanted).values_list("pk", flat=True))


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
    event: PurchaseEvent, installation: Installation, parent: Purchase | None, now
) -> Purchase:
    """The purchase row; a shopper known only by platform id is matched by the write."""
    customer_id = event.user_id
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
    converted = (event.amount * rate).quantize(Decimal("0.01"))
    if abs(converted) >= _LARGEST_AMOUNT:
        # An order whose two totals give an absurd rate: the refund is kept as paid.
        return event.amount, event.currency
    return converted, parent.currency


_BODY_FIELD = WebhookReceipt._meta.get_field("body")
# What `Purchase.amount` holds (20 digits, 6 of them decimals).
_AMOUNT_FIELD = Purchase._meta.get_field("amount")
_LARGEST_AMOUNT = Decimal(10) ** (_AMOUNT_FIELD.max_digits - _AMOUNT_FIELD.decimal_places)


def _existing_ids(installation: Installation, keys: set) -> dict:
    if not keys:
        return {}
    match = Q()
    for kind, dedupe_key in keys:
        match |= Q(kind=kind, dedupe_key=dedupe_key)
    rows = Purchase.objects.filter(match, installation=installation)
    return {(kind, key): pk for kind, key, pk in rows.values_list("kind", "dedupe_key", "pk")}


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
