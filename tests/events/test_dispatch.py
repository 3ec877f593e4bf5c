"""Dispatch against a fake Mixpanel on loopback: states, attempts, retries, C01/C03/C04/C11."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import AuditEntry
from catalog_integrations.mixpanel import client as mixpanel_client
from catalog_integrations.mixpanel.receiver import Reply, default_reply
from catalog_integrations.models import Installation
from events import dispatch
from events.dispatch import LOST_LEASE_ERROR, UnknownOrganisation, claim_batch, retry_delay
from events.models import Delivery, DeliveryAttempt
from events.tasks import DISPATCH_TASK, dispatch_deliveries, dispatch_enqueue

from .dispatch_support import (
    deliveries_of,
    make_due,
    mixpanel_install,
    purchase_record,
    sample_reply,
    sent_events,
    source_install,
)


def _attempt_outcomes(org, delivery) -> list[tuple]:
    with tenant_context(org.organisation):
        return list(
            DeliveryAttempt.objects.filter(delivery=delivery)
            .order_by("started_at", "pk")
            .values_list("outcome", "status_code")
        )


def test_a_pending_delivery_is_imported_once_and_recorded(acme, receiver, queue):
    destination = mixpanel_install(acme, receiver)
    ten_days_ago = timezone.now() - timedelta(days=10)
    purchase_record(acme, source_install(acme), [destination], occurred_at=ten_days_ago)

    result = dispatch_deliveries("acme", str(destination.pk))

    [delivery] = deliveries_of(acme)
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("delivered", 1, "")
    assert delivery.lease_expires_at is None
    assert _attempt_outcomes(acme, delivery) == [("delivered", 200)]
    assert result == {"delivered": 1, "more": False}
    [request] = receiver.state.requests
    # A purchase ten days old still goes through /import (not /track).
    assert request.path == "/import"
    assert request.query == {"strict": ["1"]}
    assert request.headers["content-encoding"] == "gzip"
    assert request.auth == ("secret-acme", "")
    [event] = request.events
    assert event["properties"]["time"] == mixpanel_client.epoch_ms(ten_days_ago)
    assert event["properties"]["$insert_id"] == delivery.insert_id
    assert connection.schema_name == "public"


def test_c01_a_task_for_acme_after_a_borealis_task_writes_only_in_acme(
    acme, borealis, receiver, queue
):
    acme_destination = mixpanel_install(acme, receiver)
    borealis_destination = mixpanel_install(borealis, receiver)
    purchase_record(acme, source_install(acme), [acme_destination])
    purchase_record(borealis, source_install(borealis), [borealis_destination])
    queue.calls.clear()
    with tenant_context(acme.organisation):
        dispatch_enqueue(schema_name="acme", destination_id=acme_destination.pk)
    # The worker's previous task left the connection on borealis.
    connection.set_tenant(borealis.organisation)

    [(func, args)] = queue.calls
    dispatch_deliveries(*args)

    assert (func, args) == (DISPATCH_TASK, ("acme", str(acme_destination.pk)))
    assert [d.state for d in deliveries_of(acme)] == ["delivered"]
    [untouched] = deliveries_of(borealis)
    assert (untouched.state, untouched.attempts) == ("pending", 0)
    assert _attempt_outcomes(borealis, untouched) == []
    assert [e["properties"]["token"] for e in sent_events(receiver)] == ["tok-acme"]
    assert connection.schema_name == "public"


def test_one_dispatch_task_is_queued_per_organisation_and_destination_at_a_time(
    acme, receiver, queue
):
    destination = mixpanel_install(acme, receiver)
    other = mixpanel_install(acme, receiver, name="Second project")

    for _ in range(3):
        dispatch_enqueue(schema_name="acme", destination_id=destination.pk)
    dispatch_enqueue(schema_name="acme", destination_id=other.pk)
    dispatch_deliveries("acme", str(destination.pk))
    dispatch_enqueue(schema_name="acme", destination_id=destination.pk)

    assert queue.dispatches() == [
        ("acme", str(destination.pk)),
        ("acme", str(other.pk)),
        # The first task started and cleared its marker: new work gets one new task.
        ("acme", str(destination.pk)),
    ]


@pytest.mark.parametrize("schema_name", ["nobody", "", None, "public", "base"])
def test_a_task_for_an_unknown_schema_fails_and_writes_nothing(
    acme, receiver, queue, schema_name, settings
):
    settings.TENANT_BASE_SCHEMA = "base"
    destination = mixpanel_install(acme, receiver)
    purchase_record(acme, source_install(acme), [destination])

    with pytest.raises(UnknownOrganisation):
        dispatch_deliveries(schema_name, str(destination.pk))

    [delivery] = deliveries_of(acme)
    assert (delivery.state, delivery.attempts) == ("pending", 0)
    assert receiver.state.requests == []
    assert connection.schema_name == "public"


def test_c03_a_destination_that_hangs_gets_at_most_max_attempts_then_is_dead(
    acme, receiver, queue, settings, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    settings.DELIVERY_MAX_ATTEMPTS = 3
    monkeypatch.setattr(mixpanel_client, "READ_TIMEOUT_SECONDS", 0.1)
    receiver.respond = lambda request, state: Reply(200, {"status": "OK"}, delay=0.5)
    destination = mixpanel_install(acme, receiver)
    purchase_record(acme, source_install(acme), [destination])

    for _ in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            dispatch_deliveries("acme", str(destination.pk))
        make_due(acme)

    assert len(receiver.state.requests) == 3
    [delivery] = deliveries_of(acme)
    assert (delivery.state, delivery.attempts) == ("dead", 3)
    assert delivery.last_error == "Mixpanel did not answer within 0.1 s (timeout)."
    assert _attempt_outcomes(acme, delivery) == [
        ("failed", None),
        ("failed", None),
        ("dead", None),
    ]
    [mail] = mailoutbox
    assert mail.to == ["admin@acme.test"]
    assert mail.subject == "1 deliveries to Mixpanel gave up"
    assert "Mixpanel did not answer within 0.1 s (timeout)." in mail.body


def test_c03_sends_that_never_return_still_count_and_end_dead_without_another_send(
    acme, receiver, queue, settings
):
    settings.DELIVERY_MAX_ATTEMPTS = 2
    destination = mixpanel_install(acme, receiver)
    purchase_record(acme, source_install(acme), [destination])

    for _ in range(2):
        # A worker claims, starts sending and is killed by the queue's timeout.
        with tenant_context(acme.organisation):
            claim_batch(destination=destination)
            Delivery.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    dispatch_deliveries("acme", str(destination.pk))

    [delivery] = deliveries_of(acme)
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("dead", 2, LOST_LEASE_ERROR)
    assert receiver.state.requests == []
    assert _attempt_outcomes(acme, delivery) == [("failed", None), ("dead", None)]


def test_c04_a_dead_workers_claim_expires_and_is_delivered_with_the_same_insert_id(
    acme, receiver, queue
):
    from events.sweep import sweep_once

    destination = mixpanel_install(acme, receiver)
    source = source_install(acme)
    for key in ("1001", "1002", "1003"):
        purchase_record(acme, source, [destination], key=key)
    with tenant_context(acme.organisation):
        claimed = claim_batch(destination=destination)
    admin = acme.signed_in()
    insert_ids = sorted(d.insert_id for d in claimed.deliveries)

    before_expiry = admin.get("/deliveries/stuck/")
    with tenant_context(acme.organisation):
        Delivery.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    while_stuck = admin.get("/deliveries/stuck/")
    queue.calls.clear()
    sweep_once()
    queue.run_dispatches()
    after = admin.get("/deliveries/stuck/")

    assert [i for i in insert_ids if i in before_expiry.content.decode()] == []
    assert [i for i in insert_ids if i in while_stuck.content.decode()] == insert_ids
    assert "Nothing is stuck." in after.content.decode()
    deliveries = deliveries_of(acme)
    assert [(d.state, d.attempts) for d in deliveries] == [("delivered", 2)] * 3
    assert sorted(e["properties"]["$insert_id"] for e in sent_events(receiver)) == insert_ids
    assert _attempt_outcomes(acme, deliveries[0]) == [("failed", None), ("delivered", 200)]


@pytest.mark.parametrize("sample, key", [("400", "insert_id"), ("400-dollar-key", "$insert_id")])
def test_c11_one_invalid_event_in_three_is_rejected_and_the_other_two_delivered_once(
    acme, receiver, queue, sample, key
):
    destination = mixpanel_install(acme, receiver)
    source = source_install(acme)
    for k in ("1001", "1002", "1003"):
        purchase_record(acme, source, [destination], key=k)
    invalid = deliveries_of(acme, purchase__dedupe_key="1002")[0]
    record = {
        "index": 1,
        key: invalid.insert_id,
        "field": "properties.time",
        "message": "'properties.time' is invalid: must be specified as seconds since epoch",
    }
    answers = [sample_reply(sample, failed_records=[record], num_records_imported=2)]
    receiver.respond = lambda request, state: (
        answers.pop(0) if answers else default_reply(request, state)
    )

    dispatch_deliveries("acme", str(destination.pk))
    make_due(acme)
    dispatch_deliveries("acme", str(destination.pk))

    states = {d.purchase.dedupe_key: (d.state, d.attempts) for d in deliveries_of(acme)}
    assert states == {"1001": ("delivered", 1), "1002": ("rejected", 1), "1003": ("delivered", 1)}
    [rejected] = deliveries_of(acme, state="rejected")
    assert rejected.last_error == (
        "Mixpanel rejected the event: properties.time: "
        "'properties.time' is invalid: must be specified as seconds since epoch"
    )
    assert len(receiver.state.requests) == 1


def test_c11_a_413_splits_the_batch_until_each_part_fits(acme, receiver, queue):
    destination = mixpanel_install(acme, receiver)
    source = source_install(acme)
    for k in ("1001", "1002", "1003"):
        purchase_record(acme, source, [destination], key=k)

    def too_large_unless_alone(request, state):
        if len(request.events) > 1:
            return sample_reply("413")
        return default_reply(request, state)

    receiver.respond = too_large_unless_alone

    dispatch_deliveries("acme", str(destination.pk))

    assert [len(r.events) for r in receiver.state.requests] == [3, 1, 2, 1, 1]
    assert [(d.state, d.attempts) for d in deliveries_of(acme)] == [("delivered", 1)] * 3
    accepted = sorted(e["properties"]["$insert_id"] for e in receiver.state.accepted)
    assert accepted == sorted(d.insert_id for d in deliveries_of(acme))


def test_c11_every_try_of_a_delivery_is_the_same_event(acme, receiver, queue):
    destination = mixpanel_install(acme, receiver)
    from events.sweep import sweep_once

    purchase_record(acme, source_install(acme), [destination], external_customer_id="cust-9")

    answers = [Reply(503, {"error": "unavailable"}), sample_reply("429")]
    receiver.respond = lambda request, state: (
        answers.pop(0) if answers else default_reply(request, state)
    )

    # The hold ends: released with a pseudonymous id, then tried three times.
    with tenant_context(acme.organisation):
        Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    sweep_once()
    for _ in range(3):
        dispatch_deliveries("acme", str(destination.pk))
        make_due(acme)

    sends = [e["properties"] for e in sent_events(receiver)]
    assert len(sends) == 3
    assert len({(p["$insert_id"], p["distinct_id"], p["time"]) for p in sends}) == 1
    [delivery] = deliveries_of(acme)
    assert (delivery.state, delivery.attempts) == ("delivered", 3)
    assert sends[0]["$insert_id"] == delivery.insert_id
    assert sends[0]["distinct_id"] == delivery.distinct_id != ""


def test_failures_back_off_and_mark_the_organisation_due_at_the_next_try(
    acme, receiver, queue, monkeypatch
):
    from tenants.models import WorkDue

    monkeypatch.setattr(dispatch.random, "uniform", lambda low, high: high)
    receiver.respond = lambda request, state: Reply(503, {"error": "unavailable"})
    destination = mixpanel_install(acme, receiver)
    purchase_record(acme, source_install(acme), [destination])
    WorkDue.objects.filter(organisation=acme.organisation).update(
        due_at=timezone.now() + timedelta(hours=1)
    )

    dispatch_deliveries("acme", str(destination.pk))

    [delivery] = deliveries_of(acme)
    assert (delivery.state, delivery.attempts) == ("failed", 1)
    assert delivery.last_error == "Mixpanel answered HTTP 503: unavailable"
    due_at = WorkDue.objects.get(organisation=acme.organisation).due_at
    assert due_at == delivery.next_attempt_at


def test_the_retry_delay_starts_near_two_seconds_doubles_with_jitter_and_stops_at_an_hour(
    monkeypatch,
):
    monkeypatch.setattr(dispatch.random, "uniform", lambda low, high: high)
    highest = [retry_delay(n) for n in (1, 2, 3, 4, 12, 40)]
    monkeypatch.setattr(dispatch.random, "uniform", lambda low, high: low)
    lowest = [retry_delay(n) for n in (1, 2, 3, 4, 12, 40)]

    assert highest == pytest.approx([2.4, 4.8, 9.6, 19.2, 3600.0, 3600.0])
    assert lowest == pytest.approx([1.6, 3.2, 6.4, 12.8, 3276.8, 3600.0])
    assert retry_delay(1, retry_after=30) == 30
    assert retry_delay(1, retry_after=7200) == 3600


def test_refused_credentials_pause_the_destination_without_spending_attempts(
    acme, receiver, queue, django_capture_on_commit_callbacks
):
    receiver.respond = lambda request, state: sample_reply("401")
    destination = mixpanel_install(acme, receiver)
    source = source_install(acme)
    purchase_record(acme, source, [destination], key="1001")

    dispatch_deliveries("acme", str(destination.pk))
    purchase_record(acme, source, [destination], key="1002")
    dispatch_deliveries("acme", str(destination.pk))

    assert len(receiver.state.requests) == 1
    assert [(d.state, d.attempts) for d in deliveries_of(acme)] == [("pending", 0)] * 2
    with tenant_context(acme.organisation):
        destination.refresh_from_db()
        audit = list(
            AuditEntry.objects.filter(action="installation.paused").values_list(
                "actor_label", "target_id"
            )
        )
    assert destination.paused_reason == (
        "Mixpanel refused the credentials (HTTP 401): Invalid credentials"
    )
    assert destination.paused_at is not None
    assert audit == [("dispatch", str(destination.pk))]


def test_a_destination_host_no_longer_allowed_is_paused_and_never_called(
    acme, receiver, queue, settings
):
    destination = mixpanel_install(acme, receiver)
    purchase_record(acme, source_install(acme), [destination])
    settings.MIXPANEL_CUSTOM_HOSTS = []

    result = dispatch_deliveries("acme", str(destination.pk))

    assert result == {"skipped": "host_not_allowed"}
    assert receiver.state.requests == []
    with tenant_context(acme.organisation):
        paused = Installation.objects.get(pk=destination.pk)
    assert paused.paused_reason == "This installation's Mixpanel host is not allowed."


def test_a_client_that_breaks_leaves_its_batch_for_a_retry(acme, receiver, queue, monkeypatch):
    destination = mixpanel_install(acme, receiver)
    purchase_record(acme, source_install(acme), [destination])

    def broken(self, deliveries):
        raise RuntimeError("boom")

    monkeypatch.setattr(mixpanel_client.MixpanelClient, "send", broken)
    dispatch_deliveries("acme", str(destination.pk))

    [delivery] = deliveries_of(acme)
    assert (delivery.state, delivery.attempts) == ("failed", 1)
    assert delivery.last_error == "The client failed: RuntimeError"


def test_a_busy_destination_hands_the_worker_back_after_its_turn(
    acme, receiver, queue, monkeypatch
):
    monkeypatch.setattr(dispatch, "BATCH_SIZE", 2)
    monkeypatch.setattr(dispatch, "TURN_SECONDS", 0)
    destination = mixpanel_install(acme, receiver)
    source = source_install(acme)
    for k in ("1001", "1002", "1003", "1004", "1005"):
        purchase_record(acme, source, [destination], key=k)
    queue.calls.clear()

    first = dispatch_deliveries("acme", str(destination.pk))
    requeued = queue.dispatches()
    results = queue.run_dispatches()

    assert first == {"delivered": 2, "more": True}
    assert requeued == [("acme", str(destination.pk))]
    assert results == [
        {"delivered": 2, "more": True},
        {"delivered": 1, "more": True},
        {"more": False},
    ]
    assert [len(r.events) for r in receiver.state.requests] == [2, 2, 1]


def test_a_paused_or_disabled_destination_is_not_sent_to(acme, receiver, queue):
    destination = mixpanel_install(acme, receiver)
    purchase_record(acme, source_install(acme), [destination])
    with tenant_context(acme.organisation):
        Installation.objects.filter(pk=destination.pk).update(is_active=False)

    result = dispatch_deliveries("acme", str(destination.pk))

    assert result == {"skipped": "destination not ready"}
    assert receiver.state.requests == []


def test_the_fault_run_ends_with_everything_delivered_as_the_same_events(
    acme, receiver, queue, monkeypatch, settings
):
    """A third of the requests fail (503 or a hang past the timeout) and a worker is
    killed mid-batch; in the end every purchase is delivered, and every send of one
    carries the same `$insert_id`, `distinct_id` and `time`."""
    from events.sweep import sweep_once

    settings.DELIVERY_MAX_ATTEMPTS = 50
    monkeypatch.setattr(dispatch, "BATCH_SIZE", 7)
    monkeypatch.setattr(mixpanel_client, "READ_TIMEOUT_SECONDS", 0.1)
    destination = mixpanel_install(acme, receiver)
    source = source_install(acme)
    for n in range(40):
        purchase_record(
            acme,
            source,
            [destination],
            key=str(2000 + n),
            amount=f"{n}.5",
            external_customer_id=f"c{n % 3}" if n % 4 else "",
        )
    with tenant_context(acme.organisation):
        # Holds run out at once, so pseudonymous ids are part of the run.
        Delivery.objects.filter(state="awaiting_identity").update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
    count = {"n": 0}

    def flaky(request, state):
        count["n"] += 1
        if count["n"] % 6 == 1:
            return Reply(503, {"error": "unavailable"})
        if count["n"] % 6 == 4:
            return Reply(200, {"status": "OK"}, delay=0.4)
        return default_reply(request, state)

    receiver.respond = flaky
    sweep_once()
    with tenant_context(acme.organisation):
        killed = claim_batch(destination=destination, limit=5)  # the worker dies here
        Delivery.objects.filter(id__in=[d.id for d in killed.deliveries]).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )

    for _ in range(30):
        make_due(acme)
        sweep_once()
        queue.run_dispatches()
        if all(d.state == "delivered" for d in deliveries_of(acme)):
            break

    assert [d.state for d in deliveries_of(acme)] == ["delivered"] * 40
    by_insert_id: dict[str, set] = {}
    for event in sent_events(receiver):
        p = event["properties"]
        by_insert_id.setdefault(p["$insert_id"], set()).add((p["distinct_id"], p["time"]))
    assert sorted(by_insert_id) == sorted(d.insert_id for d in deliveries_of(acme))
    assert all(len(variants) == 1 for variants in by_insert_id.values())
    accepted = {e["properties"]["$insert_id"] for e in receiver.state.accepted}
    assert accepted == set(by_insert_id)
