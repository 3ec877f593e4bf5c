"""The outbox's hot path in SQL: claim a batch under a lease, write back its outcomes.

Claims take rows with `SELECT ... FOR UPDATE SKIP LOCKED`, so two workers never hold
the same delivery, and a row whose lease ran out (its worker died) is due again. The
claim counts the attempt before the send, so a send that never returns still spends
one (CASES C03). Writes go as one statement per batch with array parameters: per-row
model instances and per-value parameters cost more than the send itself.
"""

import json
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.utils import timezone

from catalog_integrations.models import Installation

from .models import Delivery, DeliveryAttempt, DeliveryState, Purchase
from .outcomes import OutgoingDelivery, OutgoingPurchase
from .services.deliveries import pseudonymous_distinct_id

# A claim outlives the queue's task timeout, so a lease only expires once the worker
# that took it has certainly stopped working on it.
LEASE_SECONDS = settings.Q_CLUSTER["timeout"] + 30

LOST_LEASE_ERROR = "The worker stopped before recording a result (lease expired)."

_DELIVERIES = Delivery._meta.db_table
_PURCHASES = Purchase._meta.db_table

# No ORDER BY: sorting the whole backlog on every claim cost more than the claim; the
# scan meets rows in about the order they were written, and a retry is due by time.
_CLAIM_SQL = f"""
    WITH due AS (
        SELECT id, state AS previous_state FROM {_DELIVERIES}
        WHERE destination_id = %(destination)s AND (
            (state IN ('pending', 'failed')
             AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s))
            OR (state = 'in_flight' AND lease_expires_at <= %(now)s)
        )
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    UPDATE {_DELIVERIES} AS d
    SET state = 'in_flight', lease_expires_at = %(lease)s,
        attempts = d.attempts + 1, updated_at = %(now)s
    FROM due, {_PURCHASES} AS p
    WHERE d.id = due.id AND p.id = d.purchase_id
    RETURNING d.id, due.previous_state, d.attempts, d.insert_id, d.distinct_id,
        d.event_time,
        p.id, p.kind, p.installation_id, p.order_id, p.customer_id,
        p.external_customer_id, p.amount, p.currency, p.presentment_amount,
        p.presentment_currency, p.occurred_at, p.items, p.properties
"""  # noqa: S608 - table names are the models' own


def _json(value):
    # Django has psycopg hand jsonb back as text; its fields parse it, here we do.
    return json.loads(value) if isinstance(value, str) else value


def claim(*, destination: Installation, limit: int) -> list[OutgoingDelivery]:
    """Lease up to `limit` due deliveries of one destination (in the caller's atomic)."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL,
            {
                "destination": destination.pk,
                "now": now,
                "lease": now + timedelta(seconds=LEASE_SECONDS),
                "limit": limit,
            },
        )
        rows = cursor.fetchall()
    sources = Installation.objects.in_bulk({row[8] for row in rows})
    return [
        OutgoingDelivery(
            id=row[0],
            was_lost=row[1] == DeliveryState.IN_FLIGHT,
            attempts=row[2],
            insert_id=row[3],
            distinct_id=row[4],
            event_time=row[5],
            purchase=OutgoingPurchase(
                id=row[6],
                kind=row[7],
                installation_id=row[8],
                installation=sources[row[8]],
                order_id=row[9],
                customer_id=row[10],
                external_customer_id=row[11],
                amount=row[12],
                currency=row[13],
                presentment_amount=row[14],
                presentment_currency=row[15],
                occurred_at=row[16],
                items=_json(row[17]),
                properties=_json(row[18]),
            ),
        )
        for row in rows
    ]


def release_distinct_id(purchase) -> str:
    """The user's id when known, else a pseudonymous id for the platform customer."""
    if purchase.customer_id:
        return str(purchase.customer_id)
    if purchase.external_customer_id:
        return pseudonymous_distinct_id(purchase.installation_id, purchase.external_customer_id)
    return ""


def fix_event_identity(deliveries: list[OutgoingDelivery]) -> None:
    """Fill a delivery's `distinct_id` and `time` once; every resend reuses them."""
    unfixed = [d for d in deliveries if d.distinct_id is None or d.event_time is None]
    for delivery in unfixed:
        if delivery.distinct_id is None:
            delivery.distinct_id = release_distinct_id(delivery.purchase)
        if delivery.event_time is None:
            delivery.event_time = delivery.purchase.occurred_at
    if unfixed:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {_DELIVERIES} AS d SET distinct_id = v.distinct_id, "  # noqa: S608
                "event_time = v.event_time "
                "FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[]) "
                "AS v(id, distinct_id, event_time) WHERE d.id = v.id",
                [
                    [d.id for d in unfixed],
                    [d.distinct_id for d in unfixed],
                    [d.event_time for d in unfixed],
                ],
            )


def mark_delivered(ids: list, *, now) -> None:
    """One array parameter rather than one per id (2,000 of them per batch)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_DELIVERIES} SET state = %s, delivered_at = %s, "  # noqa: S608
            "lease_expires_at = NULL, next_attempt_at = NULL, last_error = '', "
            "updated_at = %s WHERE id = ANY(%s::uuid[])",
            [DeliveryState.DELIVERED.value, now, now, ids],
        )


def write_back(deliveries: list[OutgoingDelivery], *, now) -> None:
    """Store each delivery's new state, attempts, error and next try; the lease ends."""
    if not deliveries:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_DELIVERIES} AS d SET state = v.state, attempts = v.attempts, "  # noqa: S608
            "last_error = v.last_error, next_attempt_at = v.next_attempt_at, "
            "lease_expires_at = NULL, updated_at = %s "
            "FROM unnest(%s::uuid[], %s::text[], %s::integer[], %s::text[], %s::timestamptz[]) "
            "AS v(id, state, attempts, last_error, next_attempt_at) WHERE d.id = v.id",
            [
                now,
                [d.id for d in deliveries],
                [str(d.state) for d in deliveries],
                [d.attempts for d in deliveries],
                [d.last_error for d in deliveries],
                [d.next_attempt_at for d in deliveries],
            ],
        )


class AttemptRow(NamedTuple):
    """One `DeliveryAttempt` row, before it is written."""

    delivery_id: object
    started_at: datetime
    duration_ms: int
    status_code: int | None
    outcome: str
    error: str
    response_excerpt: str


_ATTEMPT_TYPES = ("uuid", "timestamptz", "integer", "integer", "text", "text", "text")


def attempts_insert(rows: list[AttemptRow]) -> None:
    if not rows:
        return
    names = ", ".join(AttemptRow._fields)
    arrays = ", ".join(f"%s::{kind}[]" for kind in _ATTEMPT_TYPES)
    values = [list(column) for column in zip(*rows, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {DeliveryAttempt._meta.db_table} ({names}) "  # noqa: S608
            f"SELECT * FROM unnest({arrays})",
            values,
        )
