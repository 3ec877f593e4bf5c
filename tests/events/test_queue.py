"""Dispatch through django-q2 itself: the broker (ORM always, Redis when REDIS_URL is set),
the worker's signal hooks, the task's stored result; the sweep's schedule; the check."""

import pydoc
import uuid
from functools import partial

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.models import Schedule, Task
from django_q.monitor import save_task
from django_q.signals import pre_execute
from django_q.signing import SignedPackage
from django_q.tasks import async_task
from django_tenants.utils import tenant_context

from events.models import DeliveryAttempt
from events.schedules import SWEEP_SCHEDULE_NAME
from events.tasks import DISPATCH_TASK, dispatch_enqueue
from tenants.checks import queue_retry_outlasts_timeout

from .dispatch_support import deliveries_of, mixpanel_install, purchase_record, source_install

BROKERS = ["orm"] + (["redis"] if settings.REDIS_URL else [])


@pytest.fixture(params=BROKERS)
def broker(request, monkeypatch, db):
    """A real broker; the product's enqueues go to it."""
    chosen = ORM(list_key=settings.Q_CLUSTER["name"]) if request.param == "orm" else get_broker()
    assert type(chosen).__name__ == ("ORM" if request.param == "orm" else "Redis")
    chosen.purge_queue()
    monkeypatch.setattr("events.tasks.async_task", partial(async_task, broker=chosen))
    # Between tasks the monitor closes stale connections; here that would end the test's
    # transaction, so it keeps this one.
    monkeypatch.setattr("django_q.monitor.close_old_django_connections", lambda: None)
    yield chosen
    chosen.purge_queue()


def _work_one(broker) -> dict:
    """What a cluster does with one task: take it, sign-check it, run it, store it."""
    for _ in range(200):
        taken = broker.dequeue()
        if taken:
            break
    [(ack_id, payload)] = taken
    task = SignedPackage.loads(payload)
    pre_execute.send(sender="django_q", func=task["func"], task=task)
    try:
        task["result"] = pydoc.locate(task["func"])(*task["args"], **task["kwargs"])
        task["success"] = True
    except Exception as exc:  # noqa: BLE001 - recorded as the cluster would
        task["result"], task["success"] = f"{exc}", False
    task["stopped"] = timezone.now()
    save_task(task, broker)
    broker.acknowledge(ack_id)
    return task


def test_a_dispatch_task_round_trips_through_the_broker(acme, borealis, receiver, broker):
    destination = mixpanel_install(acme, receiver)
    purchase_record(acme, source_install(acme), [destination])
    with tenant_context(acme.organisation):
        dispatch_enqueue(schema_name="acme", destination_id=destination.pk)
    connection.set_tenant(borealis.organisation)

    task = _work_one(broker)

    assert (task["func"], task["args"]) == (DISPATCH_TASK, ("acme", str(destination.pk)))
    stored = Task.objects.get(id=task["id"])
    assert (stored.success, stored.result) == (True, {"delivered": 1, "more": False})
    assert [d.state for d in deliveries_of(acme)] == ["delivered"]
    assert connection.schema_name == "public"


def test_a_task_naming_an_unknown_organisation_is_recorded_as_failed_and_writes_nothing(
    acme, receiver, broker
):
    destination = mixpanel_install(acme, receiver)
    purchase_record(acme, source_install(acme), [destination])
    dispatch_enqueue(schema_name="gone", destination_id=uuid.uuid4())

    task = _work_one(broker)

    stored = Task.objects.get(id=task["id"])
    assert stored.success is False
    assert stored.result == "unknown_organisation: No organisation has the schema 'gone'."
    [delivery] = deliveries_of(acme)
    assert (delivery.state, delivery.attempts) == ("pending", 0)
    with tenant_context(acme.organisation):
        assert DeliveryAttempt.objects.count() == 0
    assert receiver.state.requests == []


@pytest.mark.django_db
def test_migrating_the_public_schema_schedules_the_sweep_every_minute():
    schedule = Schedule.objects.get(name=SWEEP_SCHEDULE_NAME)

    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "events.tasks.sweep_work_due",
        Schedule.MINUTES,
        1,
        -1,
    )


@pytest.mark.parametrize(
    "timeout, retry, ids",
    [
        (60, 90, []),
        (60, 60, ["tenants.E001"]),
        (60, 30, ["tenants.E001"]),
        (60, None, ["tenants.E001"]),
    ],
)
def test_the_queue_check_refuses_a_retry_not_longer_than_the_timeout(settings, timeout, retry, ids):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": timeout, "retry": retry}

    assert [error.id for error in queue_retry_outlasts_timeout(None)] == ids


def test_the_configured_queue_passes_its_check():
    assert queue_retry_outlasts_timeout(None) == []
    assert settings.Q_CLUSTER["retry"] > settings.Q_CLUSTER["timeout"]
