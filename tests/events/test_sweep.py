"""The sweep: reads WorkDue (never every schema), releases holds, re-queues due work."""

from datetime import timedelta

from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.actors import Actor
from events.models import Delivery
from events.services.deliveries import pseudonymous_distinct_id
from events.services.users import IdentityRef, UserInput, customer_create
from events.sweep import sweep_once, sweep_pass_if_due, sweep_run
from events.tasks import dispatch_deliveries
from tenants.models import WorkDue

from .dispatch_support import (
    deliveries_of,
    make_due,
    mixpanel_install,
    purchase_record,
    sent_events,
    source_install,
)


def _expire_holds(org) -> None:
    with tenant_context(org.organisation):
        Delivery.objects.filter(state="awaiting_identity").update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )


def test_an_expired_hold_goes_out_with_the_pseudonymous_id(acme, receiver, queue):
    destination = mixpanel_install(acme, receiver)
    source = source_install(acme)
    purchase = purchase_record(acme, source, [destination], external_customer_id="cust-7")
    [held] = deliveries_of(acme)

    _expire_holds(acme)
    queue.calls.clear()
    found = sweep_once()
    queue.run_dispatches()

    assert held.state == "awaiting_identity"
    assert found == {"organisations": 1, "released": 1, "queued": 1}
    [delivery] = deliveries_of(acme)
    expected = pseudonymous_distinct_id(source.pk, "cust-7")
    assert (delivery.state, delivery.distinct_id) == ("delivered", expected)
    assert delivery.event_time == purchase.occurred_at
    [event] = sent_events(receiver)
    assert event["properties"]["distinct_id"] == expected


def test_a_hold_released_by_linking_the_identity_in_time_goes_out_with_the_users_id(
    acme, receiver, queue, django_capture_on_commit_callbacks
):
    destination = mixpanel_install(acme, receiver)
    source = source_install(acme)
    purchase_record(acme, source, [destination], external_customer_id="cust-8")
    with tenant_context(acme.organisation), django_capture_on_commit_callbacks(execute=True):
        customer = customer_create(
            data=UserInput(
                email="shopper@acme.example", identities=(IdentityRef(source.pk, "cust-8"),)
            ),
            actor=Actor.member(acme.admin),
        )

    queue.run_dispatches()

    [delivery] = deliveries_of(acme)
    assert (delivery.state, delivery.distinct_id) == ("delivered", str(customer.pk))
    [event] = sent_events(receiver)
    assert event["properties"]["distinct_id"] == str(customer.pk)


def test_a_hold_that_has_not_run_out_stays_held_and_is_looked_at_when_it_ends(
    acme, receiver, queue
):
    destination = mixpanel_install(acme, receiver)
    purchase_record(acme, source_install(acme), [destination], external_customer_id="cust-9")
    [held] = deliveries_of(acme)

    queue.calls.clear()
    found = sweep_once()

    assert found == {"organisations": 1, "released": 0, "queued": 0}
    assert queue.calls == []
    assert list(WorkDue.objects.filter(organisation=acme.organisation).values_list("due_at")) == [
        (held.next_attempt_at,)
    ]


def test_the_sweep_drops_an_organisation_with_nothing_open(acme, receiver, queue):
    destination = mixpanel_install(acme, receiver)
    purchase_record(acme, source_install(acme), [destination])
    sweep_once()
    queue.run_dispatches()
    make_due(acme)

    sweep_once()

    assert [d.state for d in deliveries_of(acme)] == ["delivered"]
    assert not WorkDue.objects.filter(organisation=acme.organisation).exists()


def test_the_sweep_only_visits_organisations_marked_in_work_due(acme, borealis, receiver, queue):
    acme_destination = mixpanel_install(acme, receiver)
    borealis_destination = mixpanel_install(borealis, receiver)
    purchase_record(acme, source_install(acme), [acme_destination])
    purchase_record(borealis, source_install(borealis), [borealis_destination])
    WorkDue.objects.filter(organisation=borealis.organisation).delete()
    queue.calls.clear()

    sweep_once()

    assert queue.dispatches() == [("acme", str(acme_destination.pk))]


def test_due_retries_and_expired_leases_are_queued_again(acme, receiver, queue):
    destination = mixpanel_install(acme, receiver)
    source = source_install(acme)
    purchase_record(acme, source, [destination], key="1")
    purchase_record(acme, source, [destination], key="2")
    past = timezone.now() - timedelta(seconds=1)
    with tenant_context(acme.organisation):
        Delivery.objects.filter(purchase__dedupe_key="1").update(
            state="failed", attempts=1, next_attempt_at=past
        )
        Delivery.objects.filter(purchase__dedupe_key="2").update(
            state="in_flight", attempts=1, lease_expires_at=past
        )
    queue.calls.clear()

    sweep_once()
    queue.run_dispatches()

    assert [(d.state, d.attempts) for d in deliveries_of(acme)] == [("delivered", 2)] * 2
    assert connection.schema_name == "public"


def test_a_sweep_run_stops_when_nothing_falls_due_soon(acme, receiver, queue):
    destination = mixpanel_install(acme, receiver)
    purchase_record(acme, source_install(acme), [destination])
    WorkDue.objects.filter(organisation=acme.organisation).update(
        due_at=timezone.now() + timedelta(hours=1)
    )

    totals = sweep_run()
    again = sweep_run()

    assert totals == {"passes": 1, "organisations": 0, "released": 0, "queued": 0}
    assert again == totals
    assert connection.schema_name == "public"


def _retry_soon(org) -> None:
    """A failed delivery due again in ten seconds, as dispatch leaves one."""
    soon = timezone.now() + timedelta(seconds=10)
    with tenant_context(org.organisation):
        Delivery.objects.update(state="failed", attempts=1, next_attempt_at=soon)
    WorkDue.objects.filter(organisation=org.organisation).update(due_at=soon)


def test_a_sweep_run_lingers_while_a_retry_is_near_and_the_queue_is_idle(
    acme, receiver, queue, monkeypatch
):
    destination = mixpanel_install(acme, receiver)
    purchase_record(acme, source_install(acme), [destination])
    _retry_soon(acme)
    waiting = iter([False, False, True])
    naps = []
    monkeypatch.setattr("events.sweep.time.sleep", naps.append)
    monkeypatch.setattr("events.sweep.queue_busy", lambda: next(waiting))

    totals = sweep_run()

    # Three naps of one interval; after the third, tasks were waiting: it gave way.
    assert naps == [2.0, 2.0, 2.0]
    assert totals["passes"] == 3


def test_dispatch_turns_sweep_in_passing_at_most_once_per_interval(acme, borealis, receiver, queue):
    acme_destination = mixpanel_install(acme, receiver)
    borealis_destination = mixpanel_install(borealis, receiver)
    purchase_record(acme, source_install(acme), [acme_destination])
    purchase_record(borealis, source_install(borealis), [borealis_destination])
    queue.calls.clear()

    dispatch_deliveries("acme", str(acme_destination.pk))
    first = list(queue.dispatches())
    again = sweep_pass_if_due()

    # acme's turn swept: borealis's due work is queued without waiting for a sweep run.
    assert first == [("borealis", str(borealis_destination.pk))]
    assert again is None
