"""Sending again on an admin's word: retry one, retry a destination's failures, replay a
time range (the backfill offered after installing a destination), resume a paused
destination. Each writes an audit row and queues dispatch after commit.
"""

from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.errors import ApplicationError
from accounts.services import audit_record
from catalog_integrations.models import Installation
from tenants.models import Organisation

from ..models import Delivery, DeliveryState, Purchase
from .deliveries import Audience, deliveries_build, dispatch_after_commit, work_due_mark

RETRYABLE_STATES = (DeliveryState.FAILED, DeliveryState.DEAD, DeliveryState.REJECTED)
# States a replay sends again: everything that is not on its way already.
REPLAYABLE_STATES = (*RETRYABLE_STATES, DeliveryState.DELIVERED)
# One replay covers at most this many purchases: larger ranges are split by the admin.
REPLAY_MAX_PURCHASES = 50_000
REPLAY_CHUNK = 2000


def _organisation() -> Organisation:
    return Organisation.objects.get(schema_name=connection.schema_name)


def _requeue(deliveries, *, now) -> int:
    return deliveries.update(
        state=DeliveryState.PENDING,
        attempts=0,
        next_attempt_at=now,
        lease_expires_at=None,
        last_error="",
        updated_at=now,
    )


def _dispatch_soon(destination: Installation, *, now) -> None:
    organisation = _organisation()
    work_due_mark(organisation=organisation, due_at=now)
    dispatch_after_commit(schema_name=organisation.schema_name, destination_ids=[destination.pk])


def delivery_retry(*, delivery: Delivery, actor: Actor) -> Delivery:
    """Send one failed, dead or rejected delivery again, with a fresh set of attempts."""
    if delivery.state not in RETRYABLE_STATES:
        raise ApplicationError(
            detail=f"Only failed, dead or rejected deliveries can be retried (this one is "
            f"{delivery.get_state_display().lower()}).",
            code="delivery_not_retryable",
            status=409,
        )
    now = timezone.now()
    with transaction.atomic():
        _requeue(Delivery.objects.filter(pk=delivery.pk), now=now)
        audit_record(
            actor=actor,
            action="delivery.retried",
            target=delivery,
            target_label=f"{delivery.destination.name}: {delivery.insert_id}",
            changes={"state": [delivery.state, DeliveryState.PENDING]},
        )
        _dispatch_soon(delivery.destination, now=now)
    delivery.refresh_from_db()
    return delivery


def deliveries_retry_failed(*, destination: Installation, actor: Actor) -> int:
    """Send every failed or dead delivery of one destination again."""
    now = timezone.now()
    with transaction.atomic():
        count = _requeue(
            Delivery.objects.filter(
                destination=destination,
                state__in=(DeliveryState.FAILED, DeliveryState.DEAD),
            ),
            now=now,
        )
        if count:
            audit_record(
                actor=actor,
                action="deliveries.retried",
                target=destination,
                changes={"count": count, "states": ["failed", "dead"]},
            )
            _dispatch_soon(destination, now=now)
    return count


def deliveries_replay(
    *, destination: Installation, start: datetime, end: datetime, actor: Actor
) -> dict:
    """Send every purchase that happened in [start, end) to a destination again.

    Purchases recorded before the destination was installed get their delivery now
    (a backfill); ones already delivered go again with the same `$insert_id`, which
    the destination deduplicates.
    """
    if start >= end:
        raise ApplicationError(
            detail="The start of the range must be before its end.", code="invalid_range"
        )
    purchases = Purchase.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    total = purchases.count()
    if total > REPLAY_MAX_PURCHASES:
        raise ApplicationError(
            detail=f"The range holds {total} purchases; replay at most "
            f"{REPLAY_MAX_PURCHASES} at a time.",
            code="replay_too_large",
        )
    from ..claims import release_distinct_id

    now = timezone.now()
    organisation = _organisation()
    with transaction.atomic():
        reset = _requeue(
            Delivery.objects.filter(
                destination=destination,
                state__in=REPLAYABLE_STATES,
                purchase__in=purchases.values("pk"),
            ),
            now=now,
        )
        missing = purchases.exclude(deliveries__destination=destination).select_related(
            "installation"
        )
        created = 0
        batch: list[Delivery] = []
        for purchase in missing.iterator(chunk_size=REPLAY_CHUNK):
            batch += deliveries_build(
                schema_name=organisation.schema_name,
                purchase=purchase,
                audience=Audience(purchase.customer_id, purchase.external_customer_id),
                destination_ids=[destination.pk],
                # An old purchase waits for no identity: it goes as it is known now.
                fixed_distinct_ids={destination.pk: release_distinct_id(purchase)},
                now=now,
            )
            if len(batch) >= REPLAY_CHUNK:
                created += len(Delivery.objects.bulk_create(batch, ignore_conflicts=True))
                batch = []
        created += len(Delivery.objects.bulk_create(batch, ignore_conflicts=True))
        audit_record(
            actor=actor,
            action="deliveries.replayed",
            target=destination,
            changes={
                "from": start.isoformat(),
                "to": end.isoformat(),
                "created": created,
                "reset": reset,
            },
        )
        if created or reset:
            _dispatch_soon(destination, now=now)
    return {"created": created, "reset": reset}


def destination_resume(*, destination: Installation, actor: Actor) -> Installation:
    """Start sending to a paused destination again (after its credentials were fixed)."""
    if destination.paused_at is None:
        return destination
    now = timezone.now()
    with transaction.atomic():
        previous = destination.paused_reason
        Installation.objects.filter(pk=destination.pk).update(
            paused_at=None, paused_reason="", updated_at=now, updated_by=actor.label
        )
        audit_record(
            actor=actor,
            action="installation.resumed",
            target=destination,
            changes={"paused_reason": [previous, ""]},
        )
        _dispatch_soon(destination, now=now)
    destination.refresh_from_db()
    return destination
