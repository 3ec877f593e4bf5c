"""Deliveries at record time, and the release of purchases held for an identity.

A delivery's `distinct_id` and `event_time` are fixed when it is first released
(created `pending`, or moved out of `awaiting_identity`), so every resend is the same
event downstream. Dispatch itself lives in `events.tasks` and `events.dispatch`.
"""

import logging
import operator
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from tenants.models import Organisation, WorkDue

from ..models import Delivery, DeliveryState, Identity, Purchase

logger = logging.getLogger(__name__)

# Fixed forever: changing either namespace would change every `$insert_id` or
# pseudonymous `distinct_id` already sent, and destinations would count events twice.
INSERT_ID_NAMESPACE = uuid.UUID("3d7c4b1e-58a2-4f0e-9c61-2b8f7a9e0d45")
PSEUDONYM_NAMESPACE = uuid.UUID("a41f9e63-0c27-4d8b-b5e2-7f19c3d60a88")


@dataclass(frozen=True)
class Audience:
    """Who a purchase is about, as far as deliveries care."""

    customer_id: uuid.UUID | None
    external_customer_id: str


def insert_id(*, schema_name: str, purchase_id, destination_id) -> str:
    """The `$insert_id`: 36 characters, stable per organisation, event and destination."""
    return str(uuid.uuid5(INSERT_ID_NAMESPACE, f"{schema_name}:{purchase_id}:{destination_id}"))


def pseudonymous_distinct_id(installation_id, external_customer_id: str) -> str:
    """The stable `distinct_id` of a shopper no identity names, once their hold expires.

    Derived from the installation and the platform's customer id, so all of that
    shopper's events on that installation share it, without revealing the raw id.
    """
    return str(uuid.uuid5(PSEUDONYM_NAMESPACE, f"{installation_id}:{external_customer_id}"))


def deliveries_build(
    *,
    schema_name: str,
    purchase: Purchase,
    audience: Audience,
    destination_ids: Iterable,
    fixed_distinct_ids: dict | None = None,
    now: datetime,
) -> list[Delivery]:
    """Unsaved deliveries of one new purchase, one per destination.

    Guest checkouts (no customer id at all) and known shoppers go out at once; a
    customer id no identity names waits in `awaiting_identity` until
    `IDENTITY_HOLD_SECONDS` have passed. `fixed_distinct_ids` (destination id to
    distinct_id) carries a refund's parent's released id, so both reach the same person.
    """
    hold_until = now + timedelta(seconds=settings.IDENTITY_HOLD_SECONDS)
    fixed_distinct_ids = fixed_distinct_ids or {}
    built = []
    for destination_id in destination_ids:
        distinct_id = fixed_distinct_ids.get(destination_id)
        if distinct_id is None and audience.customer_id is not None:
            distinct_id = str(audience.customer_id)
        if distinct_id is None and not audience.external_customer_id:
            distinct_id = ""
        delivery = Delivery(
            purchase=purchase,
            destination_id=destination_id,
            insert_id=insert_id(
                schema_name=schema_name, purchase_id=purchase.pk, destination_id=destination_id
            ),
            created_at=now,
        )
        if distinct_id is None:
            delivery.state = DeliveryState.AWAITING_IDENTITY
            delivery.next_attempt_at = hold_until
        else:
            delivery.state = DeliveryState.PENDING
            delivery.next_attempt_at = now
            delivery.distinct_id = distinct_id
            delivery.event_time = purchase.occurred_at
        built.append(delivery)
    return built


def work_due_mark(*, organisation: Organisation, due_at: datetime) -> None:
    """Tell the sweep this organisation has deliveries due at `due_at` (or earlier).

    One upsert keeping the earliest time; a row already due earlier is not rewritten
    (on a stream of purchases it seldom needs to be). Either way it locks the
    organisation's row until the caller's transaction ends (PostgreSQL locks the
    conflicting row even when the `WHERE` of `DO UPDATE` leaves it as it is), so a
    sweep that locks the row before clearing it waits and then sees the deliveries
    this transaction wrote.
    """
    table = connection.ops.quote_name(WorkDue._meta.db_table)
    public = connection.ops.quote_name(get_public_schema_name())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {public}.{table} AS work (organisation_id, due_at) "  # noqa: S608
            "VALUES (%s, %s) ON CONFLICT (organisation_id) "
            "DO UPDATE SET due_at = EXCLUDED.due_at WHERE work.due_at > EXCLUDED.due_at",
            [organisation.pk, due_at],
        )


def dispatch_after_commit(*, schema_name: str, destination_ids: Iterable) -> None:
    """Queue dispatch for these destinations once the caller's transaction commits."""
    from ..tasks import dispatch_enqueue

    pending = sorted({str(d) for d in destination_ids})
    if not pending:
        return

    def enqueue():
        for destination_id in pending:
            try:
                dispatch_enqueue(schema_name=schema_name, destination_id=destination_id)
            except Exception:
                # The rows are committed and the organisation is marked: the sweep
                # picks them up, so a broker hiccup must not fail the request.
                logger.warning(
                    "dispatch_enqueue_failed",
                    exc_info=True,
                    extra={"schema": schema_name, "destination": destination_id},
                )

    transaction.on_commit(enqueue)


def deliveries_release_for_identities(
    *, organisation: Organisation, identities: Sequence[Identity], now: datetime | None = None
) -> int:
    """Attribute to their users the purchases newly linked identities name, and release
    those purchases' held deliveries with the user's id, in the caller's transaction.

    Called by the one writer of identities with the identities it just linked. A handful
    of queries whatever the number of identities; when nobody was waiting, two.
    Returns how many deliveries were released.
    """
    owners = {(i.installation_id, i.external_id): i.customer_id for i in identities}
    if not owners:
        return 0
    now = now or timezone.now()
    named = reduce(
        operator.or_,
        (Q(installation_id=inst, external_customer_id=ext) for inst, ext in owners),
    )
    with transaction.atomic():
        unmatched = Purchase.objects.filter(named, customer__isnull=True).exclude(
            external_customer_id=""
        )
        found = list(unmatched.values_list("pk", "installation_id", "external_customer_id"))
        if not found:
            return 0
        customer_of = {pk: owners[(inst, ext)] for pk, inst, ext in found}
        Purchase.objects.bulk_update(
            [Purchase(pk=pk, customer_id=customer) for pk, customer in customer_of.items()],
            ["customer_id"],
        )
        held = list(
            Delivery.objects.select_for_update()
            .filter(purchase_id__in=customer_of, state=DeliveryState.AWAITING_IDENTITY)
            .select_related("purchase")
            .order_by("pk")
        )
        for delivery in held:
            delivery.state = DeliveryState.PENDING
            delivery.distinct_id = str(customer_of[delivery.purchase_id])
            delivery.event_time = delivery.purchase.occurred_at
            delivery.next_attempt_at = now
            delivery.updated_at = now
        Delivery.objects.bulk_update(
            held, ["state", "distinct_id", "event_time", "next_attempt_at", "updated_at"]
        )
        if held:
            work_due_mark(organisation=organisation, due_at=now)
            dispatch_after_commit(
                schema_name=organisation.schema_name,
                destination_ids=[d.destination_id for d in held],
            )
    logger.info(
        "held_deliveries_released",
        extra={"attributed": len(customer_of), "released": len(held)},
    )
    return len(held)
