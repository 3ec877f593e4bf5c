"""A remembered source only ever leads to a write that checks it still holds.

Each test first lets a webhook through, so that the installation is remembered, then
changes it behind the memory (no cache is cleared) and sends the next one.
"""

import json
from dataclasses import replace

import pytest
from django.test.utils import override_settings
from django_tenants.utils import tenant_context

from catalog_integrations.models import Installation
from catalog_integrations.services import (
    installation_delete,
    installation_rotate_secret,
    installation_set_active,
    installation_update,
)
from catalog_integrations.shopify.parsing import parse_order
from catalog_integrations.sources import SourceChanged, ingest_source
from events.ingest import RawReceipt
from events.models import Delivery, Purchase, WebhookReceipt
from events.services.purchases import purchase_record
from tenants.models import WorkDue

from .ingest_support import (
    ACTOR,
    SAMPLE_SECRET,
    SAMPLE_SHOP,
    api_install,
    mixpanel_install,
    post_purchases,
    post_webhook,
    sample,
    shopify_install,
    signed_copy,
)

NOT_FOUND = {"detail": "Not found.", "code": "not_found"}


def _count(org, model, **filters) -> int:
    with tenant_context(org.organisation):
        return model.objects.filter(**filters).count()


def _stored(org) -> tuple[int, int, int]:
    """(receipts, purchases, deliveries) in the organisation."""
    return (_count(org, WebhookReceipt), _count(org, Purchase), _count(org, Delivery))


def _order(org, shop, order_id: int, *, secret: str = SAMPLE_SECRET):
    body, headers = signed_copy("orders-paid", secret=secret, id=order_id)
    return post_webhook(org.client(), shop, body, headers)


def _remembered_shop(org):
    """A shop with one destination whose first order went through."""
    shop = shopify_install(org)
    mixpanel = mixpanel_install(org)
    assert _order(org, shop, 1).json() == {"status": "recorded"}
    return shop, mixpanel


def _api_purchase(event_id: str) -> dict:
    return {
        "event_id": event_id,
        "amount": "10.00",
        "currency": "EUR",
        "occurred_at": "2025-03-18T14:02:35Z",
    }


# Shopify ----------------------------------------------------------------------------------


def test_a_source_disabled_behind_the_memory_is_not_found_and_nothing_is_written(acme):
    shop, _ = _remembered_shop(acme)
    with tenant_context(acme.organisation):
        Installation.objects.filter(pk=shop.pk).update(is_active=False)

    response = _order(acme, shop, 2)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert _stored(acme) == (1, 1, 1)


def test_a_source_changed_twice_by_one_transaction_is_seen_changed_the_second_time(acme):
    # The whole test is one transaction: both updates write row versions with its id.
    shop, _ = _remembered_shop(acme)
    with tenant_context(acme.organisation):
        Installation.objects.filter(pk=shop.pk).update(name="Renamed")
    # Read afresh (the first update changed the row) and remembered again.
    assert _order(acme, shop, 2).json() == {"status": "recorded"}
    with tenant_context(acme.organisation):
        Installation.objects.filter(pk=shop.pk).update(is_active=False)

    response = _order(acme, shop, 3)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert _stored(acme) == (2, 2, 2)


def test_a_deleted_source_is_not_found_and_nothing_is_written(acme):
    shop, _ = _remembered_shop(acme)
    with tenant_context(acme.organisation):
        # A fresh instance: deleting clears the primary key of the one it is given.
        installation_delete(installation=Installation.objects.get(pk=shop.pk), actor=ACTOR)

    response = _order(acme, shop, 2)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert _stored(acme) == (0, 0, 0)


@override_settings(SHOPIFY_PREVIOUS_SECRET_GRACE_SECONDS=0)
def test_a_secret_replaced_without_grace_refuses_the_old_one_though_it_was_remembered(acme):
    shop, _ = _remembered_shop(acme)
    with tenant_context(acme.organisation):
        installation_rotate_secret(installation=shop, value="the-new-secret", actor=ACTOR)

    old = _order(acme, shop, 2)
    new = _order(acme, shop, 3, secret="the-new-secret")

    assert old.status_code == 401
    assert old.json()["code"] == "invalid_signature"
    assert new.json() == {"status": "recorded"}
    with tenant_context(acme.organisation):
        assert sorted(Purchase.objects.values_list("order_id", flat=True)) == ["1", "3"]
    assert _count(acme, WebhookReceipt) == 2


def test_a_purchase_topic_changed_behind_the_memory_applies_to_the_next_webhook(acme):
    shop, _ = _remembered_shop(acme)
    with tenant_context(acme.organisation):
        installation_update(
            installation=shop,
            name=shop.name,
            config={
                "shop_domain": SAMPLE_SHOP,
                "webhook_secret": "",
                "purchase_topic": "orders/create",
                "include_test_orders": False,
            },
            actor=ACTOR,
        )

    response = _order(acme, shop, 2)

    assert response.json() == {"status": "ignored"}
    assert _stored(acme) == (1, 1, 1)


def test_a_destination_added_behind_the_memory_gets_the_next_purchase(acme):
    shop, first = _remembered_shop(acme)
    second = mixpanel_install(acme, name="Project two", token="token-2")

    response = _order(acme, shop, 2)

    assert response.json() == {"status": "recorded"}
    with tenant_context(acme.organisation):
        destinations = Delivery.objects.filter(purchase__order_id="2").values_list(
            "destination_id", flat=True
        )
        assert sorted(destinations) == sorted([first.pk, second.pk])


def test_a_destination_disabled_behind_the_memory_gets_no_new_delivery(acme):
    shop, first = _remembered_shop(acme)
    second = mixpanel_install(acme, name="Project two", token="token-2")
    _order(acme, shop, 2)
    with tenant_context(acme.organisation):
        installation_set_active(installation=first, is_active=False, actor=ACTOR)

    response = _order(acme, shop, 3)

    assert response.json() == {"status": "recorded"}
    with tenant_context(acme.organisation):
        destinations = Delivery.objects.filter(purchase__order_id="3").values_list(
            "destination_id", flat=True
        )
        assert list(destinations) == [second.pk]


# The API integration ----------------------------------------------------------------------


def test_a_replaced_api_key_is_refused_though_the_source_was_remembered(acme):
    installation, old_key = api_install(acme)
    first = post_purchases(acme.client(), installation, old_key, _api_purchase("evt-1"))
    with tenant_context(acme.organisation):
        new_key = installation_rotate_secret(installation=installation, actor=ACTOR).one_time[
            "api_key"
        ]

    old = post_purchases(acme.client(), installation, old_key, _api_purchase("evt-2"))
    batch = post_purchases(
        acme.client(), installation, old_key, {"purchases": [_api_purchase("evt-3")]}
    )
    new = post_purchases(acme.client(), installation, new_key, _api_purchase("evt-4"))

    assert first.status_code == 201
    assert (old.status_code, batch.status_code, new.status_code) == (401, 401, 201)
    assert old.json() == {"detail": "A valid installation key is required.", "code": "invalid_key"}
    with tenant_context(acme.organisation):
        assert sorted(Purchase.objects.values_list("event_id", flat=True)) == ["evt-1", "evt-4"]


def test_an_api_source_disabled_behind_the_memory_is_not_found(acme):
    installation, key = api_install(acme)
    post_purchases(acme.client(), installation, key, _api_purchase("evt-1"))
    with tenant_context(acme.organisation):
        Installation.objects.filter(pk=installation.pk).update(is_active=False)

    response = post_purchases(acme.client(), installation, key, _api_purchase("evt-2"))

    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert (_count(acme, WebhookReceipt), _count(acme, Purchase)) == (1, 1)


# The guarded write ------------------------------------------------------------------------


def _record_paid_sample(org, shop, *, source_version: str | None = None):
    """The paid sample recorded directly from a remembered source, checked against
    `source_version` (by default the installation as it is read now)."""
    body, _ = sample("orders-paid")
    event = parse_order(json.loads(body), event_id="evt-direct")
    with tenant_context(org.organisation):
        source = ingest_source(str(shop.pk), "shopify", fresh=True)
        remembered = replace(source, version=source_version or source.version, remembered=True)
        return purchase_record(
            organisation=org.organisation,
            source=remembered,
            events=[event],
            receipt=RawReceipt(topic="orders/paid", body=body, webhook_id="direct"),
            actor=ACTOR,
        )


def test_a_stale_source_version_raises_and_writes_nothing_at_all(acme):
    shop = shopify_install(acme)
    mixpanel_install(acme)

    with pytest.raises(SourceChanged):
        _record_paid_sample(acme, shop, source_version="1")

    assert _stored(acme) == (0, 0, 0)
    assert not WorkDue.objects.filter(organisation=acme.organisation).exists()


def test_the_source_version_as_read_lets_the_write_through(acme):
    shop = shopify_install(acme)
    mixpanel_install(acme)

    result = _record_paid_sample(acme, shop)

    assert result.created == 1
    assert _stored(acme) == (1, 1, 1)


# Cross-tenant -----------------------------------------------------------------------------


def test_acmes_remembered_source_is_not_found_on_borealis_host(acme, borealis):
    shop, _ = _remembered_shop(acme)
    body, headers = signed_copy("orders-paid", id=2)

    response = post_webhook(borealis.client(), shop, body, headers)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert _stored(borealis) == (0, 0, 0)
    assert _stored(acme) == (1, 1, 1)


def test_a_change_made_in_memory_to_the_instance_read_does_not_reach_the_remembered_one(acme):
    shop = shopify_install(acme)
    with tenant_context(acme.organisation):
        read = ingest_source(str(shop.pk), "shopify")
        read.installation.config["shop_domain"] = "changed-in-memory.myshopify.com"
        read.installation.is_active = False
        remembered = ingest_source(str(shop.pk), "shopify")

    assert remembered.remembered is True
    assert remembered.installation.is_active is True
    assert remembered.installation.config["shop_domain"] == shop.config["shop_domain"]
