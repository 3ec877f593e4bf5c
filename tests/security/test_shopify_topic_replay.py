"""Shopify's HMAC covers the body, not the `X-Shopify-Topic` header: a captured, validly
signed delivery replayed under a destructive topic must erase and disable nothing."""

import uuid
from decimal import Decimal

from django_tenants.utils import tenant_context

from catalog_integrations.models import Installation
from events.models import ComplianceRequest, Purchase
from tests.events.ingest_support import post_sample, shopify_install


def _replay(org, shop, sample_name: str, topic: str):
    return post_sample(
        org.client(),
        shop,
        sample_name,
        **{"X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": str(uuid.uuid4())},
    )


def test_a_signed_order_replayed_as_shop_redact_erases_nothing(acme):
    shop = shopify_install(acme)
    assert post_sample(acme.client(), shop, "orders-paid").status_code == 200

    response = _replay(acme, shop, "orders-paid", "shop/redact")

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "shop_domain", "message": "Must be this installation's shop domain."}
    ]
    with tenant_context(acme.organisation):
        purchase = Purchase.objects.get()
        assert purchase.external_customer_id != ""
        assert purchase.amount == Decimal("86.65")
        assert ComplianceRequest.objects.count() == 0


def test_a_signed_order_replayed_as_customers_redact_is_422(acme):
    shop = shopify_install(acme)

    response = _replay(acme, shop, "orders-paid", "customers/redact")

    assert response.status_code == 422
    with tenant_context(acme.organisation):
        assert ComplianceRequest.objects.count() == 0


def test_one_shoppers_redaction_replayed_as_shop_redact_is_422(acme):
    shop = shopify_install(acme)

    response = _replay(acme, shop, "customers-redact", "shop/redact")

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "customer", "message": "A shop/redact request names no customer."}
    ]
    with tenant_context(acme.organisation):
        assert ComplianceRequest.objects.count() == 0


def test_a_signed_order_replayed_as_app_uninstalled_keeps_the_installation_active(acme):
    shop = shopify_install(acme)

    response = _replay(acme, shop, "orders-paid", "app/uninstalled")

    assert response.status_code == 422
    with tenant_context(acme.organisation):
        assert Installation.objects.get(pk=shop.pk).is_active is True
