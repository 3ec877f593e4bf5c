"""Dispatch: claim due deliveries, send them through the destination's client, record.

The database is the source of truth. A delivery is claimed with a lease (state
`in_flight`, `lease_expires_at`) under `SELECT ... FOR UPDATE SKIP LOCKED`, so two
workers never send the same rows at once and a worker that dies leaves rows that any
other worker may claim once the lease expires. Attempts are counted when a row is
claimed, before the send, so a send that never returns (a killed worker, a queue
timeout) still spends one (CASES C03).
"""

import logging
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.actors import Actor
from accounts.errors import ApplicationError
from accounts.models import Member, Role
from accounts.services import audit_record
from catalog_integrations.models import Installation
from config.logging import organisation_var
from tenants.models import Organisation

from . import claims
from .claims import LOST_LEASE_ERROR, AttemptRow
from .models import Delivery, DeliveryState
from .outcomes import OutgoingDelivery, SendOutcome, SendResult
from .services.deliveries import work_due_mark

logger = logging.getLogger(__name__)

DISPATCH_ACTOR = Actor.system("dispatch")

# Mixpanel's /import takes at most 2,000 events a request: one claim fills one request.
BATCH_SIZE = 2000
# A task sends batches for about this long, then queues itself again behind other
# organisations' tasks, so a busy shop cannot hold a worker for long.
TURN_SECONDS = 2.0
# Backoff: first retry after about 2 s, doubling, +-20 % jitter, never over an hour.
FIRST_RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 3600.0
RETRY_JITTER = 0.2
# Response bodies and errors kept on an attempt row, in characters.
EXCERPT_CHARS = 500

DUE_STATES = (DeliveryState.PENDING, DeliveryState.FAILED)
OPEN_STATES = (
    DeliveryState.AWAITING_IDENTITY,
    DeliveryState.PENDING,
    DeliveryState.IN_FLIGHT,
    DeliveryState.FAILED,
)


class UnknownOrganisation(ApplicationError):
    def __init__(self, schema_name: str):
        super().__init__(
            detail=f"No organisation has the schema '{schema_name}'.",
            code="unknown_organisation",
            status=404,
        )


def retry_delay(attempts: int, *, retry_after: float | None = None) -> float:
    """Seconds until the next try after `attempts` failed ones."""
    exponent = min(max(attempts, 1) - 1, 30)
    base = FIRST_RETRY_SECONDS * 2**exponent
    delay = base * random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)  # noqa: S311
    if retry_after:
        delay = max(delay, retry_after)
    return min(delay, MAX_RETRY_SECONDS)


def organisation_for_schema(schema_name: str) -> Organisation:
    """The organisation a task names; anything else fails closed."""
    organisation = None
    if isinstance(schema_name, str) and schema_name:
        organisation = Organisation.objects.clients().filter(schema_name=schema_name).first()
    if organisation is None:
        raise UnknownOrganisation(str(schema_name))
    return organisation


def destination_ready(destination: Installation | None) -> bool:
    from catalog_integrations.registry import get_integration

    if destination is None or not destination.is_active or destination.paused_at:
        return False
    integration = get_integration(destination.integration)
    return integration is not None and integration.is_destination


@dataclass
class Claimed:
    deliveries: list[OutgoingDelivery]
    # Rows whose lost send was their last attempt: marked dead, not sent again.
    exhausted: list[OutgoingDelivery]


def claim_batch(*, destination: Installation, limit: int | None = None) -> Claimed:
    """Lease up to `limit` due deliveries of one destination (own transaction).

    A row taken back from an expired lease gets an attempt row for the send whose
    result was lost; if that send was its last attempt it is dead, and not sent.
    """
    with transaction.atomic():
        rows = claims.claim(destination=destination, limit=limit or BATCH_SIZE)
        lost = [d for d in rows if d.was_lost]
        # Claiming added one attempt; the lost send itself was counted when it was claimed.
        exhausted = [d for d in lost if d.attempts > settings.DELIVERY_MAX_ATTEMPTS]
        if lost:
            _record_lost(lost, exhausted, now=timezone.now())
        spent = {d.id for d in exhausted}
        sendable = [d for d in rows if d.id not in spent]
        claims.fix_event_identity(sendable)
    return Claimed(sendable, exhausted)


def _record_lost(lost: list, exhausted: list, *, now) -> None:
    spent = {d.id for d in exhausted}
    for delivery in exhausted:
        delivery.attempts -= 1
        _fail(delivery, LOST_LEASE_ERROR, now=now, dead=True)
    outcome = {True: str(DeliveryState.DEAD), False: str(DeliveryState.FAILED)}
    claims.attempts_insert(
        [AttemptRow(d.id, now, 0, None, outcome[d.id in spent], LOST_LEASE_ERROR, "") for d in lost]
    )
    claims.write_back(exhausted, now=now)


def dispatch_turn(*, schema_name: str, destination_id: str) -> dict:
    """One task's turn: enter the organisation, send batches for a while, leave.

    Raises `UnknownOrganisation` (the task is recorded as failed, nothing is written)
    when the schema names no organisation. Always leaves the connection on public.
    """
    from .tasks import dispatch_enqueue, dispatch_marker_clear

    organisation = organisation_for_schema(schema_name)
    dispatch_marker_clear(schema_name=schema_name, destination_id=destination_id)
    totals: Counter = Counter()
    more = False
    token = organisation_var.set(organisation.slug)
    try:
        connection.set_tenant(organisation)
        destination = Installation.objects.filter(pk=destination_id).first()
        if not destination_ready(destination):
            return {"skipped": "destination not ready", **totals}
        try:
            client = destination_client(destination)
        except ApplicationError as exc:
            # E.g. its host was removed from the allowed ones: stop until someone acts.
            destination_pause(destination=destination, reason=exc.detail, now=timezone.now())
            return {"skipped": exc.code}
        deadline = time.monotonic() + TURN_SECONDS
        while True:
            claimed = claim_batch(destination=destination)
            if not (claimed.deliveries or claimed.exhausted):
                break
            if len(claimed.deliveries) + len(claimed.exhausted) >= BATCH_SIZE:
                # A full batch: more is likely waiting, and another worker may take the
                # next one meanwhile (claims never overlap). Still one task queued at most.
                dispatch_enqueue(schema_name=schema_name, destination_id=destination_id)
            totals.update(
                send_and_record(
                    organisation=organisation,
                    destination=destination,
                    client=client,
                    claimed=claimed,
                )
            )
            if destination.paused_at:
                break
            if time.monotonic() >= deadline:
                more = True
                break
        logger.info(
            "dispatch_turn", extra={"destination": str(destination_id), "more": more, **totals}
        )
    finally:
        connection.set_schema_to_public()
        organisation_var.reset(token)
    if more:
        dispatch_enqueue(schema_name=schema_name, destination_id=destination_id)
    _sweep_in_passing()
    return dict(totals, more=more)


def _sweep_in_passing() -> None:
    """While tasks flow, their turns sweep (see `events.sweep`); never fails the turn."""
    from .sweep import sweep_pass_if_due

    try:
        sweep_pass_if_due()
    except Exception:
        logger.exception("sweep_in_passing_failed")
        connection.set_schema_to_public()


def destination_client(destination: Installation):
    from catalog_integrations.registry import get_integration

    return get_integration(destination.integration).client(destination)


def _send(client, deliveries: list[OutgoingDelivery]) -> list[SendResult]:
    """The client's results for every delivery; a client that breaks means retry."""
    if not deliveries:
        return []
    try:
        results = list(client.send(deliveries))
    except Exception as exc:
        logger.exception("dispatch_client_failed")
        error = f"The client failed: {type(exc).__name__}"
        return [SendResult(d.id, SendOutcome.RETRY, error=error) for d in deliveries]
    answered = {r.delivery_id for r in results}
    missing = [d for d in deliveries if d.id not in answered]
    if missing:
        logger.error("dispatch_results_missing", extra={"count": len(missing)})
        error = "The client gave no result for this delivery."
        results += [SendResult(d.id, SendOutcome.RETRY, error=error) for d in missing]
    return results


def send_and_record(*, organisation, destination, client, claimed: Claimed) -> Counter:
    results = _send(client, claimed.deliveries)
    return record_results(
        organisation=organisation, destination=destination, claimed=claimed, results=results
    )


def record_results(
    *, organisation, destination: Installation, claimed: Claimed, results: list[SendResult]
) -> Counter:
    """Apply a batch's outcomes to its deliveries and log one attempt row per try."""
    now = timezone.now()
    by_id = {d.id: d for d in claimed.deliveries}
    max_attempts = settings.DELIVERY_MAX_ATTEMPTS
    log: list[AttemptRow] = []
    delivered: list = []
    changed: list[OutgoingDelivery] = []
    refused: list = []
    dead: list[OutgoingDelivery] = []
    counts: Counter = Counter()

    if claimed.exhausted:
        dead.extend(claimed.exhausted)
        counts[DeliveryState.DEAD] += len(claimed.exhausted)

    for result in results:
        delivery = by_id[result.delivery_id]
        outcome = result.outcome
        error = result.error[:EXCERPT_CHARS]
        state = {
            SendOutcome.DELIVERED: DeliveryState.DELIVERED,
            SendOutcome.REJECTED: DeliveryState.REJECTED,
            SendOutcome.UNAUTHORIZED: DeliveryState.PENDING,
        }.get(outcome)
        if outcome == SendOutcome.DELIVERED:
            delivered.append(delivery.id)
        elif outcome == SendOutcome.REJECTED:
            delivery.state = DeliveryState.REJECTED
            delivery.last_error = error
            delivery.next_attempt_at = None
            changed.append(delivery)
        elif outcome == SendOutcome.UNAUTHORIZED:
            refused.append(delivery.id)
        else:
            is_dead = delivery.attempts >= max_attempts
            _fail(delivery, error, now=now, dead=is_dead, retry_after=result.retry_after)
            state = delivery.state
            changed.append(delivery)
            if is_dead:
                dead.append(delivery)
        counts[state] += 1
        log.append(
            AttemptRow(
                delivery.id,
                now - timedelta(milliseconds=result.duration_ms),
                result.duration_ms,
                result.status_code,
                str(state),
                error,
                result.response_excerpt[:EXCERPT_CHARS],
            )
        )

    with transaction.atomic():
        if delivered:
            claims.mark_delivered(delivered, now=now)
        claims.write_back(changed, now=now)
        if refused:
            reason = next(r.error for r in results if r.outcome == SendOutcome.UNAUTHORIZED)
            Delivery.objects.filter(id__in=refused).update(
                state=DeliveryState.PENDING,
                attempts=F("attempts") - 1,
                lease_expires_at=None,
                next_attempt_at=now,
                updated_at=now,
            )
            destination_pause(destination=destination, reason=reason, now=now)
        claims.attempts_insert(log)
        retries = [d.next_attempt_at for d in changed if d.state == DeliveryState.FAILED]
        if retries:
            work_due_mark(organisation=organisation, due_at=min(retries))
            transaction.on_commit(_kick_sweep)
        if dead:
            _notify_dead_on_commit(organisation, destination, dead)
    counts.pop(None, None)
    return counts


def _kick_sweep() -> None:
    from .sweep import sweep_enqueue

    sweep_enqueue()


def _fail(
    delivery: OutgoingDelivery,
    error: str,
    *,
    now,
    dead: bool,
    retry_after: float | None = None,
) -> None:
    delivery.last_error = error
    if dead:
        delivery.state = DeliveryState.DEAD
        delivery.next_attempt_at = None
    else:
        delivery.state = DeliveryState.FAILED
        delay = retry_delay(delivery.attempts, retry_after=retry_after)
        delivery.next_attempt_at = now + timedelta(seconds=delay)


def destination_pause(*, destination: Installation, reason: str, now) -> None:
    """Stop sending to a destination whose credentials were refused, until resumed."""
    updated = Installation.objects.filter(pk=destination.pk, paused_at__isnull=True).update(
        paused_at=now, paused_reason=reason[:255], updated_by=DISPATCH_ACTOR.label
    )
    destination.paused_at, destination.paused_reason = now, reason[:255]
    if updated:
        audit_record(
            actor=DISPATCH_ACTOR,
            action="installation.paused",
            target=destination,
            changes={"paused_reason": reason[:255]},
        )
        logger.warning("destination_paused", extra={"installation": str(destination.pk)})


def _notify_dead_on_commit(organisation, destination: Installation, dead: list) -> None:
    recipients = list(
        Member.objects.filter(role=Role.ADMIN, is_active=True).values_list("email", flat=True)
    )
    if not recipients:
        return
    context = {
        "organisation": organisation,
        "destination": destination,
        "count": len(dead),
        "last_error": dead[-1].last_error,
        "link": organisation.portal_url.rstrip("/") + "/deliveries/?state=dead",
    }
    subject = f"{len(dead)} deliveries to {destination.name} gave up"
    body = render_to_string("events/email/deliveries_dead.txt", context)

    def send():
        send_mail(subject=subject, message=body, from_email=None, recipient_list=recipients)

    transaction.on_commit(send)
