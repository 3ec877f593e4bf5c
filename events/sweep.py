"""The sweep: find organisations with work due and queue their dispatch tasks.

It reads the public `WorkDue` table, never every schema. For each organisation due it
enters the schema, releases identity holds that ran out, queues a dispatch task for
each destination with due retries or expired leases (CASES C04), and writes back when
the organisation next has something due (or drops the row when nothing is open).

django-q2 has no delayed tasks and its scheduler looks at schedules only every 30 s.
So a sweep run (scheduled every minute, and kicked by dispatch when it schedules a
retry) keeps sweeping every `SWEEP_INTERVAL_SECONDS` while something falls due before
the next scheduled run, but only while the queue is idle: it never holds a worker that
other tasks wait for. While tasks flow, each dispatch turn makes a sweep pass instead
(`sweep_pass_if_due`, at most one per interval across all workers).
"""

import logging
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Case, F, Min, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.tasks import async_task
from django_tenants.utils import schema_context

from tenants.models import WorkDue

from .claims import release_distinct_id
from .dispatch import DUE_STATES
from .models import Delivery, DeliveryState

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 2.0
# One run sweeps for at most this long: well inside the queue's task timeout.
SWEEP_WINDOW_SECONDS = settings.Q_CLUSTER["timeout"] - 15
# A run keeps going while something is due within this long (the schedule's period).
SWEEP_LINGER_SECONDS = 60
# An organisation whose due work was just queued is looked at again after this long.
RECHECK_SECONDS = 5
# Organisations handled by one pass, oldest due first.
ORGANISATIONS_PER_PASS = 500
# Expired holds released per organisation and pass.
RELEASES_PER_PASS = 2000

SWEEP_TASK = "events.tasks.sweep_work_due"
_SWEEP_KEY = "deliveries-sweep-running"
_PASS_KEY = "deliveries-sweep-pass"


def sweep_enqueue() -> None:
    """Queue a sweep run now unless one is queued or running."""
    token = uuid.uuid4().hex
    with schema_context("public"):
        if not cache.add(_SWEEP_KEY, token, SWEEP_WINDOW_SECONDS + 30):
            return
    async_task(SWEEP_TASK, token, task_name="deliveries sweep")


def sweep_run(token: str | None = None) -> dict:
    """A sweep run: passes every few seconds while work falls due soon."""
    with schema_context("public"):
        if token is None:
            token = uuid.uuid4().hex
            if not cache.add(_SWEEP_KEY, token, SWEEP_WINDOW_SECONDS + 30):
                return {"skipped": "a sweep is already running"}
        elif cache.get(_SWEEP_KEY) != token:
            return {"skipped": "a sweep is already running"}
    totals = {"passes": 0, "organisations": 0, "released": 0, "queued": 0}
    deadline = time.monotonic() + SWEEP_WINDOW_SECONDS
    try:
        while True:
            found = sweep_once()
            totals["passes"] += 1
            for key in ("organisations", "released", "queued"):
                totals[key] += found[key]
            next_due = WorkDue.objects.aggregate(at=Min("due_at"))["at"]
            horizon = timezone.now() + timedelta(seconds=SWEEP_LINGER_SECONDS)
            if next_due is None or next_due > horizon:
                break
            if time.monotonic() + SWEEP_INTERVAL_SECONDS >= deadline:
                break
            time.sleep(SWEEP_INTERVAL_SECONDS)
            if queue_busy():
                # Tasks are waiting for a worker: give this one back; their turns sweep.
                break
    finally:
        connection.set_schema_to_public()
        with schema_context("public"):
            if cache.get(_SWEEP_KEY) == token:
                cache.delete(_SWEEP_KEY)
    logger.info("sweep_run", extra=totals)
    return totals


def queue_busy() -> bool:
    """Whether tasks are waiting in the broker for a worker."""
    try:
        return get_broker().queue_size() > 0
    except Exception:  # noqa: BLE001 - a broker hiccup must not stop the sweep
        logger.warning("sweep_queue_size_failed", exc_info=True)
        return False


def sweep_pass_if_due() -> dict | None:
    """A sweep pass, unless one ran within the last interval (any worker)."""
    with schema_context("public"):
        if not cache.add(_PASS_KEY, 1, int(SWEEP_INTERVAL_SECONDS)):
            return None
    return sweep_once()


def sweep_once() -> dict:
    """One pass over the organisations with work due now."""
    now = timezone.now()
    due = list(
        WorkDue.objects.filter(due_at__lte=now)
        .order_by("due_at")
        .values_list("organisation_id", flat=True)[:ORGANISATIONS_PER_PASS]
    )
    found = {"organisations": 0, "released": 0, "queued": 0}
    for organisation_id in due:
        released, queued = sweep_organisation(organisation_id=organisation_id)
        found["organisations"] += 1
        found["released"] += released
        found["queued"] += queued
    return found


def sweep_organisation(*, organisation_id: int) -> tuple[int, int]:
    """Release, queue and reschedule for one organisation: (released, queued)."""
    from .tasks import dispatch_enqueue

    now = timezone.now()
    with transaction.atomic():
        row = (
            WorkDue.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("organisation")
            .filter(organisation_id=organisation_id, due_at__lte=now)
            .first()
        )
        if row is None:
            return 0, 0
        organisation = row.organisation
        connection.set_tenant(organisation)
        try:
            released = release_expired_holds(now=now)
            destinations = due_destinations(now=now)
            next_due = next_due_at(now=now)
        finally:
            connection.set_schema_to_public()
        if next_due is None:
            row.delete()
        else:
            row.due_at = next_due if next_due > now else now + timedelta(seconds=RECHECK_SECONDS)
            row.save(update_fields=["due_at"])
    for destination_id in destinations:
        dispatch_enqueue(schema_name=organisation.schema_name, destination_id=destination_id)
    if released or destinations:
        logger.info(
            "sweep_organisation",
            extra={
                "organisation": organisation.slug,
                "released": released,
                "queued": len(destinations),
            },
        )
    return released, len(destinations)


def release_expired_holds(*, now) -> int:
    """Holds that ran out go out with a pseudonymous id (or the user's, if linked)."""
    held = list(
        Delivery.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("purchase")
        .filter(state=DeliveryState.AWAITING_IDENTITY, next_attempt_at__lte=now)
        .order_by("next_attempt_at")[:RELEASES_PER_PASS]
    )
    for delivery in held:
        delivery.state = DeliveryState.PENDING
        if delivery.distinct_id is None:
            delivery.distinct_id = release_distinct_id(delivery.purchase)
        if delivery.event_time is None:
            delivery.event_time = delivery.purchase.occurred_at
        delivery.next_attempt_at = now
        delivery.updated_at = now
    Delivery.objects.bulk_update(
        held, ["state", "distinct_id", "event_time", "next_attempt_at", "updated_at"]
    )
    return len(held)


def _sendable():
    return Delivery.objects.filter(destination__is_active=True, destination__paused_at__isnull=True)


def due_destinations(*, now) -> list[str]:
    """Destinations with retries due, new work, or leases that ran out."""
    due = Q(state__in=DUE_STATES) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    lost = Q(state=DeliveryState.IN_FLIGHT, lease_expires_at__lte=now)
    ids = _sendable().filter(due | lost).values_list("destination_id", flat=True).distinct()
    return [str(i) for i in ids]


def next_due_at(*, now):
    """When this organisation next has something to do; None when nothing is open."""
    holds = Delivery.objects.filter(state=DeliveryState.AWAITING_IDENTITY).aggregate(
        at=Min("next_attempt_at")
    )["at"]
    sends = (
        _sendable()
        .filter(state__in=(*DUE_STATES, DeliveryState.IN_FLIGHT))
        .aggregate(
            at=Min(
                Case(
                    When(state=DeliveryState.IN_FLIGHT, then=F("lease_expires_at")),
                    default=Coalesce(F("next_attempt_at"), Value(now)),
                )
            )
        )["at"]
    )
    times = [t for t in (holds, sends) if t is not None]
    return min(times) if times else None
