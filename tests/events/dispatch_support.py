"""Helpers for the dispatch tests: a fake Mixpanel on loopback, rows built directly, and
a recorder standing in for the queue (tasks are then run synchronously, for real).

Test modules import the fixtures they use from here.
"""

import json
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from catalog_integrations.crypto import encrypt_secrets
from catalog_integrations.mixpanel.receiver import MixpanelReceiver, Reply
from catalog_integrations.models import Installation
from events import tasks
from events.models import Delivery, Purchase
from events.services.deliveries import Audience, deliveries_build, work_due_mark
from tenants.models import WorkDue

SAMPLES = Path(__file__).parent / "samples"


def sample_reply(name: str, **replace) -> Reply:
    """A Mixpanel answer from the shared samples, with some keys' values replaced."""
    body = json.loads((SAMPLES / f"mixpanel-import-response-{name}.json").read_text())
    body.update(replace)
    return Reply(body["code"], body)


@pytest.fixture
def receiver(settings):
    """A fake Mixpanel on 127.0.0.1 (ephemeral port), allowed as a custom host."""
    server = MixpanelReceiver().start()
    settings.MIXPANEL_CUSTOM_HOSTS = [server.url]
    yield server
    server.stop()


@dataclass
class Queue:
    """What the product asked the queue to run, in order."""

    calls: list[tuple[str, tuple]] = field(default_factory=list)

    def async_task(self, func, *args, **kwargs):
        self.calls.append((func, args))
        return f"task-{len(self.calls)}"

    def dispatches(self) -> list[tuple]:
        return [args for func, args in self.calls if func == tasks.DISPATCH_TASK]

    def run_dispatches(self) -> list[dict]:
        """Run the queued dispatch tasks (and any they queue) through the task function."""
        results = []
        while self.dispatches():
            args = self.dispatches()[0]
            self.calls.remove((tasks.DISPATCH_TASK, args))
            results.append(tasks.dispatch_deliveries(*args))
        return results


@pytest.fixture
def queue(monkeypatch):
    recorder = Queue()
    monkeypatch.setattr("events.tasks.async_task", recorder.async_task)
    monkeypatch.setattr("events.sweep.async_task", recorder.async_task)
    return recorder


def mixpanel_install(org, receiver, *, name="Mixpanel", secrets=None, **config) -> Installation:
    with tenant_context(org.organisation):
        return Installation.objects.create(
            integration="mixpanel",
            name=name,
            config={
                "project_token": f"tok-{org.slug}",
                "region": "us",
                "api_host": receiver.url,
                **config,
            },
            secrets_encrypted=encrypt_secrets(secrets or {"api_secret": f"secret-{org.slug}"}),
        )


def source_install(org, *, integration="api", name="Back office") -> Installation:
    with tenant_context(org.organisation):
        return Installation.objects.create(integration=integration, name=name, config={})


def purchase_record(
    org,
    source: Installation,
    destinations: list[Installation],
    *,
    key: str = "1001",
    amount: str = "19.99",
    kind: str = "purchase",
    occurred_at=None,
    customer=None,
    external_customer_id: str = "",
    parent=None,
    items=None,
    properties=None,
) -> Purchase:
    """A stored purchase with its deliveries, and the organisation marked as due."""
    now = timezone.now()
    with tenant_context(org.organisation):
        purchase = Purchase.objects.create(
            installation=source,
            kind=kind,
            parent=parent,
            dedupe_key=key,
            order_id=key,
            event_id=f"evt-{key}",
            customer=customer,
            external_customer_id=external_customer_id,
            amount=Decimal(amount),
            currency="EUR",
            occurred_at=occurred_at or now - timedelta(minutes=5),
            items=items or [],
            properties=properties or {},
        )
        Delivery.objects.bulk_create(
            deliveries_build(
                schema_name=org.organisation.schema_name,
                purchase=purchase,
                audience=Audience(purchase.customer_id, external_customer_id),
                destination_ids=[d.pk for d in destinations],
                now=now,
            )
        )
        work_due_mark(organisation=org.organisation, due_at=now)
    connection.set_schema_to_public()
    return purchase


def deliveries_of(org, **filters) -> list[Delivery]:
    with tenant_context(org.organisation):
        return list(
            Delivery.objects.filter(**filters)
            .select_related("purchase")
            .order_by("purchase__dedupe_key", "pk")
        )


def make_due(org) -> None:
    """Let time pass: every failed delivery's next try, and the sweep's look, is now."""
    now = timezone.now()
    with tenant_context(org.organisation):
        Delivery.objects.filter(state="failed").update(next_attempt_at=now)
    WorkDue.objects.filter(organisation=org.organisation).update(due_at=now)


def work_due(org):
    return WorkDue.objects.filter(organisation=org.organisation).values_list("due_at", flat=True)


def sent_events(receiver) -> list[dict]:
    """Every event of every request the receiver got (resends included), in order."""
    return [
        event
        for request in receiver.state.requests
        if isinstance(request.events, list)
        for event in request.events
    ]
