"""Copies arriving at the same moment: one row, and a success for each.

Each copy runs in its own thread, on its own database connection, and commits for
real. A barrier holds both requests just before their writing statement until both
are there, so the inserts truly collide and the database's unique constraints decide.
"""

import threading

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from events.models import Purchase, WebhookReceipt
from events.services import purchases

from .ingest_support import api_install, post_purchases, post_sample, shopify_install

BARRIER_SECONDS = 10


def _meet_before(monkeypatch, name: str) -> None:
    """Make both racing requests wait for each other just before `purchases.<name>`."""
    barrier = threading.Barrier(2, timeout=BARRIER_SECONDS)
    original = getattr(purchases, name)

    def waiting(*args, **kwargs):
        barrier.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(purchases, name, waiting)


def _race(*requests) -> list:
    responses = [None] * len(requests)

    def run(index, request):
        try:
            responses[index] = request()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BARRIER_SECONDS * 2)
    return responses


@pytest.mark.django_db(transaction=True)
def test_copies_racing_each_other_end_in_one_row_and_a_success_each(acme, monkeypatch):
    """One test, as each committing test costs a flush and a re-provisioning."""
    shop = shopify_install(acme)
    installation, key = api_install(acme)

    # Both copies reach the one writing statement together, each time.
    _meet_before(monkeypatch, "_write")

    # A redelivery racing its original: the webhook id decides.
    same_webhook = _race(
        lambda: post_sample(acme.client(), shop, "orders-paid"),
        lambda: post_sample(acme.client(), shop, "orders-paid"),
    )

    # Two subscriptions: one refund under two webhook ids, racing past the receipts.
    two_subscriptions = _race(
        lambda: post_sample(acme.client(), shop, "refunds-create"),
        lambda: post_sample(
            acme.client(), shop, "refunds-create", **{"X-Shopify-Webhook-Id": "second-copy"}
        ),
    )

    # One API event sent twice at once.
    payload = {
        "event_id": "race-1",
        "amount": "10.00",
        "currency": "USD",
        "occurred_at": "2025-03-18T14:02:35Z",
    }
    same_event = _race(
        lambda: post_purchases(acme.client(), installation, key, payload),
        lambda: post_purchases(acme.client(), installation, key, payload),
    )

    assert [r.status_code for r in same_webhook] == [200, 200]
    assert sorted(r.json()["status"] for r in same_webhook) == ["duplicate", "recorded"]
    assert [r.status_code for r in two_subscriptions] == [200, 200]
    assert sorted(r.json()["status"] for r in two_subscriptions) == ["recorded", "unchanged"]
    assert sorted(r.status_code for r in same_event) == [200, 201]
    assert len({r.json()["id"] for r in same_event}) == 1
    with tenant_context(acme.organisation):
        assert Purchase.objects.filter(installation=shop, kind="purchase").count() == 1
        assert Purchase.objects.filter(installation=shop, kind="refund").count() == 1
        assert Purchase.objects.filter(installation=installation).count() == 1
        assert WebhookReceipt.objects.filter(installation=shop).count() == 3
