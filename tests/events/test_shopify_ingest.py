import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django_tenants.utils import tenant_context

from catalog_integrations.models import Installation
from catalog_integrations.services import installation_rotate_secret, installation_set_active
from catalog_integrations.shopify.secrets import PREVIOUS_EXPIRES_KEY
from events.models import (
    ComplianceRequest,
    Customer,
    Delivery,
    DeliveryState,
    Identity,
    Purchase,
    PurchaseKind,
    WebhookReceipt,
)
from events.services.deliveries import INSERT_ID_NAMESPACE
from tenants.models import WorkDue

from .ingest_support import (
    ACTOR,
    SAMPLE_SECRET,
    mixpanel_install,
    post_sample,
    post_webhook,
    sample,
    shopify_install,
    sign,
    signed_copy,
)

PAID_ORDER_ID = "6190245830011"


def _rows(org, model, **filters):
    with tenant_context(org.organisation):
        return list(model.objects.filter(**filters))


def _count(org, model, **filters):
    with tenant_context(org.organisation):
        return model.objects.filter(**filters).count()


# The samples, each giving exactly what it describes ---------------------------------------


def test_orders_paid_sample_records_the_purchase_it_describes(acme):
    shop = shopify_install(acme)

    response = post_sample(acme.client(), shop, "orders-paid")

    assert response.status_code == 200
    assert response.content == b'{"status": "recorded"}'
    assert response["Content-Type"] == "application/json; charset=utf-8"
    [purchase] = _rows(acme, Purchase)
    assert purchase.installation_id == shop.pk
    assert purchase.kind == "purchase"
    assert purchase.order_id == PAID_ORDER_ID
    assert purchase.dedupe_key == PAID_ORDER_ID
    assert purchase.event_id == "3f0c9a6e-51d2-4b8e-a7c4-2d9e61b0c102"
    assert purchase.amount == Decimal("86.65")
    assert purchase.currency == "USD"
    assert purchase.presentment_amount == Decimal("86.65")
    assert purchase.presentment_currency == "USD"
    assert purchase.occurred_at == datetime(2025, 3, 18, 18, 2, 35, tzinfo=UTC)
    assert purchase.external_customer_id == "7301550110001"
    assert purchase.customer_id is None
    assert purchase.status == "paid"
    assert purchase.is_test is False
    assert purchase.parent_id is None
    assert purchase.properties == {"order_name": "#1042"}
    assert purchase.items == [
        {
            "sku": "EX-MUG-SAGE-12",
            "name": "Example Ceramic Mug - Sage / 12 oz",
            "quantity": 2,
            "price": "24.00",
        },
        {"sku": "EX-TOTE-LINEN", "name": "Example Linen Tote", "quantity": 1, "price": "36.00"},
    ]


def test_the_raw_body_is_kept_byte_for_byte_with_its_webhook_id(acme):
    shop = shopify_install(acme)
    body, _ = sample("orders-paid")

    post_sample(acme.client(), shop, "orders-paid")

    [receipt] = _rows(acme, WebhookReceipt)
    assert bytes(receipt.body) == body
    assert receipt.webhook_id == "b54557e4-8a5f-4bf7-9d70-bcd043000002"
    assert receipt.topic == "orders/paid"
    assert receipt.order_id == PAID_ORDER_ID
    assert receipt.external_customer_id == "7301550110001"


def test_orders_create_sample_is_a_test_order_and_skipped_by_default(acme):
    shop = shopify_install(acme, purchase_topic="orders/create")

    response = post_sample(acme.client(), shop, "orders-create")

    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert _count(acme, Purchase) == 0
    assert _count(acme, WebhookReceipt) == 0


def test_orders_create_sample_is_recorded_when_test_orders_are_included(acme):
    shop = shopify_install(acme, purchase_topic="orders/create", include_test_orders=True)

    response = post_sample(acme.client(), shop, "orders-create")

    assert response.json() == {"status": "recorded"}
    [purchase] = _rows(acme, Purchase)
    assert purchase.order_id == "820982911946154508"
    assert purchase.amount == Decimal("403.00")
    assert purchase.currency == "USD"
    # No processed_at: the time the order was created, in UTC.
    assert purchase.occurred_at == datetime(2019, 6, 4, 17, 53, 6, tzinfo=UTC)
    assert purchase.is_test is True
    # Recorded whatever the financial status ("voided"); the order was cancelled.
    assert purchase.status == "cancelled"
    assert purchase.external_customer_id == "115310627314723954"
    assert purchase.items == [
        {"sku": "IPOD2008PINK", "name": "IPod Nano - 8GB", "quantity": 1, "price": "199.00"},
        {"sku": "IPOD2008PINK", "name": "IPod Nano - 8GB", "quantity": 1, "price": "199.00"},
    ]


def test_a_topic_other_than_the_purchase_topic_records_nothing(acme):
    shop = shopify_install(acme, purchase_topic="orders/paid")

    response = post_sample(acme.client(), shop, "orders-create-guest")

    assert response.json() == {"status": "ignored"}
    assert _count(acme, Purchase) == 0


def test_guest_checkout_goes_out_at_once_with_an_empty_distinct_id(acme):
    shop = shopify_install(acme, purchase_topic="orders/create")
    mixpanel = mixpanel_install(acme)

    response = post_sample(acme.client(), shop, "orders-create-guest")

    assert response.json() == {"status": "recorded"}
    [purchase] = _rows(acme, Purchase)
    assert purchase.order_id == "6190245830033"
    assert purchase.amount == Decimal("43.56")
    assert purchase.external_customer_id == ""
    assert purchase.items == [
        {
            "sku": "EX-NOTE-A5-DOT",
            "name": "Example Dot-Grid Notebook - A5",
            "quantity": 2,
            "price": "18.00",
        }
    ]
    [delivery] = _rows(acme, Delivery)
    assert delivery.destination_id == mixpanel.pk
    assert delivery.state == DeliveryState.PENDING
    assert delivery.distinct_id == ""
    assert delivery.event_time == datetime(2025, 3, 20, 23, 31, 56, tzinfo=UTC)
    assert delivery.next_attempt_at == purchase.received_at
    assert delivery.insert_id == str(
        uuid.uuid5(INSERT_ID_NAMESPACE, f"acme:{purchase.pk}:{mixpanel.pk}")
    )


def test_refund_sample_records_an_adjustment_of_its_purchase(acme):
    shop = shopify_install(acme)
    post_sample(acme.client(), shop, "orders-paid")

    response = post_sample(acme.client(), shop, "refunds-create")

    assert response.json() == {"status": "recorded"}
    [purchase] = _rows(acme, Purchase, kind="purchase")
    [refund] = _rows(acme, Purchase, kind="refund")
    assert refund.parent_id == purchase.pk
    assert refund.dedupe_key == "1001230000011"
    assert refund.order_id == PAID_ORDER_ID
    # The sum of its successful refund transactions, as an adjustment.
    assert refund.amount == Decimal("-34.99")
    assert refund.currency == "USD"
    assert refund.occurred_at == datetime(2025, 3, 24, 13, 15, 12, tzinfo=UTC)
    assert refund.external_customer_id == "7301550110001"
    assert refund.items == [
        {"sku": "EX-TOTE-LINEN", "name": "Example Linen Tote", "quantity": 1, "price": "36.00"}
    ]


def test_refund_of_an_unknown_purchase_is_kept_by_refund_id_with_its_order(acme):
    shop = shopify_install(acme)

    post_sample(acme.client(), shop, "refunds-create")

    [refund] = _rows(acme, Purchase)
    assert refund.kind == "refund"
    assert refund.parent_id is None
    assert refund.dedupe_key == "1001230000011"
    assert refund.order_id == PAID_ORDER_ID
    assert refund.amount == Decimal("-34.99")


def test_refund_without_successful_transactions_adjusts_nothing(acme):
    shop = shopify_install(acme)
    body, _ = sample("refunds-create")
    transactions = json.loads(body)["transactions"]
    transactions[0]["status"] = "failure"
    failed_body, headers = signed_copy("refunds-create", transactions=transactions)

    response = post_webhook(acme.client(), shop, failed_body, headers)

    assert response.json() == {"status": "ignored"}
    assert _count(acme, Purchase) == 0


def test_cancellation_sample_sets_the_status_and_records_its_refund(acme):
    shop = shopify_install(acme)
    paid_body, paid_headers = signed_copy("orders-paid", id=6190245830022)
    post_webhook(acme.client(), shop, paid_body, paid_headers)

    response = post_sample(acme.client(), shop, "orders-cancelled")

    assert response.json() == {"status": "recorded"}
    [purchase] = _rows(acme, Purchase, kind="purchase")
    assert purchase.status == "cancelled"
    assert purchase.amount == Decimal("86.65")
    [refund] = _rows(acme, Purchase, kind="refund")
    assert refund.dedupe_key == "1001230000022"
    assert refund.parent_id == purchase.pk
    assert refund.amount == Decimal("-79.44")
    assert refund.occurred_at == datetime(2025, 3, 19, 15, 20, 29, tzinfo=UTC)


def test_a_refund_arriving_twice_by_two_topics_is_counted_once(acme):
    shop = shopify_install(acme)
    post_sample(acme.client(), shop, "orders-cancelled")
    body, _ = sample("orders-cancelled")
    refund = json.loads(body)["refunds"][0]
    refund_body, headers = signed_copy("refunds-create", **refund)

    response = post_webhook(acme.client(), shop, refund_body, headers)

    assert response.json() == {"status": "unchanged"}
    [stored] = _rows(acme, Purchase, kind="refund")
    assert stored.dedupe_key == "1001230000022"
    assert stored.amount == Decimal("-79.44")


def test_cancellation_sends_no_event(acme):
    shop = shopify_install(acme)
    mixpanel_install(acme)
    post_sample(acme.client(), shop, "orders-paid")
    body, headers = signed_copy("orders-cancelled", id=int(PAID_ORDER_ID), refunds=[])

    response = post_webhook(acme.client(), shop, body, headers)

    assert response.json() == {"status": "recorded"}
    assert _rows(acme, Purchase)[0].status == "cancelled"
    assert _count(acme, Purchase) == 1
    assert _count(acme, Delivery) == 1


def test_other_topics_are_acknowledged_and_ignored(acme):
    shop = shopify_install(acme)
    body, headers = signed_copy("orders-paid")

    response = post_webhook(
        acme.client(), shop, body, headers, **{"X-Shopify-Topic": "products/update"}
    )

    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert _count(acme, Purchase) == 0
    assert _count(acme, WebhookReceipt) == 0


def test_app_uninstalled_disables_the_installation(acme):
    shop = shopify_install(acme)
    body = b'{"id": 954889, "domain": "example-shop.myshopify.com"}'
    _, headers = sample("orders-paid")

    response = post_webhook(
        acme.client(),
        shop,
        body,
        headers,
        **{
            "X-Shopify-Topic": "app/uninstalled",
            "X-Shopify-Hmac-Sha256": sign(body, SAMPLE_SECRET),
        },
    )

    assert response.json() == {"status": "disabled"}
    with tenant_context(acme.organisation):
        assert Installation.objects.get(pk=shop.pk).is_active is False
    assert post_sample(acme.client(), shop, "orders-paid").status_code == 404


# Privacy requests -------------------------------------------------------------------------


def _shopper_with_history(org, shop):
    """Customer 191167 of the compliance samples: a user, an identity, a purchase."""
    with tenant_context(org.organisation):
        user = Customer.objects.create(email="customer@example.com", name="Pat Example")
        Identity.objects.create(customer=user, installation=shop, external_id="191167")
    body, headers = signed_copy(
        "orders-paid", id=299938, customer={"id": 191167, "email": "customer@example.com"}
    )
    post_webhook(org.client(), shop, body, headers)
    return user


def test_customers_data_request_is_recorded_for_export(acme):
    shop = shopify_install(acme)

    response = post_sample(acme.client(), shop, "customers-data-request")

    assert response.json() == {"status": "recorded"}
    [request] = _rows(acme, ComplianceRequest)
    assert request.topic == "customers/data_request"
    assert request.external_customer_id == "191167"
    assert request.order_ids == ["299938", "280263", "220458"]
    assert request.request_id == "9999"
    assert request.completed_at is None
    [receipt] = _rows(acme, WebhookReceipt)
    assert receipt.body is None


def test_shopper_data_for_a_data_request_names_their_user_and_purchases(acme):
    from events.selectors.compliance import shopper_data

    shop = shopify_install(acme)
    user = _shopper_with_history(acme, shop)

    with tenant_context(acme.organisation):
        data = shopper_data(installation_id=shop.pk, external_customer_id="191167")

    assert data["user"]["id"] == str(user.pk)
    assert data["user"]["email"] == "customer@example.com"
    assert [(p["order_id"], p["amount"]) for p in data["purchases"]] == [("299938", "86.650000")]


def test_customers_redact_erases_the_shopper_and_keeps_the_figures(acme):
    shop = shopify_install(acme)
    mixpanel_install(acme)
    user = _shopper_with_history(acme, shop)
    with tenant_context(acme.organisation):
        Identity.objects.filter(external_id="191167").delete()
    other_body, other_headers = signed_copy("orders-paid", id=1, customer={"id": 555})
    post_webhook(acme.client(), shop, other_body, other_headers)
    with tenant_context(acme.organisation):
        Identity.objects.create(customer=user, installation=shop, external_id="191167")

    response = post_sample(acme.client(), shop, "customers-redact")

    assert response.json() == {"status": "recorded"}
    with tenant_context(acme.organisation):
        redacted = Purchase.objects.get(order_id="299938")
        assert redacted.external_customer_id == ""
        assert redacted.customer_id is None
        assert redacted.amount == Decimal("86.65")
        assert redacted.items[0]["sku"] == "EX-MUG-SAGE-12"
        # It was held for an identity: it now goes out, anonymously.
        delivery = Delivery.objects.get(purchase=redacted)
        assert delivery.state == DeliveryState.PENDING
        assert delivery.distinct_id == ""
        assert delivery.event_time == redacted.occurred_at
        assert not Identity.objects.filter(external_id="191167").exists()
        assert not WebhookReceipt.objects.filter(order_id="299938").exists()
        # Another shopper and the organisation's own user record are untouched.
        assert Purchase.objects.get(order_id="1").external_customer_id == "555"
        assert WebhookReceipt.objects.filter(order_id="1").count() == 1
        assert Customer.objects.filter(pk=user.pk).exists()
        [request] = ComplianceRequest.objects.all()
        assert request.completed_at is not None


def test_shop_redact_erases_every_shopper_of_that_shop_only(acme):
    shop = shopify_install(acme)
    other = shopify_install(acme, shop_domain="other-shop.myshopify.com", name="Other")
    _shopper_with_history(acme, shop)
    body, headers = signed_copy("orders-paid", id=7, customer={"id": 191167})
    post_webhook(
        acme.client(), other, body, {**headers, "X-Shopify-Shop-Domain": "other-shop.myshopify.com"}
    )

    response = post_sample(acme.client(), shop, "shop-redact")

    assert response.json() == {"status": "recorded"}
    with tenant_context(acme.organisation):
        assert list(
            Purchase.objects.filter(installation=shop).values_list("external_customer_id", "amount")
        ) == [("", Decimal("86.65"))]
        assert not Identity.objects.filter(installation=shop).exists()
        assert list(
            WebhookReceipt.objects.filter(installation=shop).values_list("topic", flat=True)
        ) == ["shop/redact"]
        assert Purchase.objects.get(installation=other).external_customer_id == "191167"


def test_compliance_topics_still_reach_a_disabled_installation(acme):
    shop = shopify_install(acme)
    with tenant_context(acme.organisation):
        installation_set_active(installation=shop, is_active=False, actor=ACTOR)

    redact = post_sample(acme.client(), shop, "customers-redact")
    order = post_sample(acme.client(), shop, "orders-paid")

    assert redact.status_code == 200
    assert order.status_code == 404
    assert _count(acme, Purchase) == 0


# Duplicates -------------------------------------------------------------------------------


def test_a_redelivery_with_the_same_webhook_id_stores_nothing_more(acme):
    shop = shopify_install(acme)
    post_sample(acme.client(), shop, "orders-paid")

    response = post_sample(acme.client(), shop, "orders-paid")

    assert response.status_code == 200
    assert response.json() == {"status": "duplicate"}
    assert _count(acme, Purchase) == 1
    assert _count(acme, WebhookReceipt) == 1


def test_a_copy_from_a_second_subscription_ends_in_one_purchase(acme):
    shop = shopify_install(acme)
    post_sample(acme.client(), shop, "orders-paid")

    response = post_sample(
        acme.client(), shop, "orders-paid", **{"X-Shopify-Webhook-Id": "another-subscription"}
    )

    assert response.json() == {"status": "unchanged"}
    assert _count(acme, Purchase) == 1


def test_the_first_purchase_event_for_an_order_wins(acme):
    shop = shopify_install(acme)
    post_sample(acme.client(), shop, "orders-paid")
    body, headers = signed_copy(
        "orders-paid",
        total_price_set={"shop_money": {"amount": "99.00", "currency_code": "USD"}},
    )

    response = post_webhook(acme.client(), shop, body, {**headers, "X-Shopify-Webhook-Id": "later"})

    assert response.json() == {"status": "unchanged"}
    [purchase] = _rows(acme, Purchase)
    assert purchase.amount == Decimal("86.65")


# Signatures (CASES C10) -------------------------------------------------------------------

ODD_BODY = (
    '{  "id":777001 ,"name" : "#Ünïcødé",\n\t"processed_at":"2025-03-18T14:02:35-04:00",'
    '"total_price_set":{"shop_money":{"amount":"12.50","currency_code":"EUR"}},'
    '"line_items":[{"sku":"TASSE-1","name":"Tasse – café ☕","quantity":1,"price":"12.50"}],'
    '"customer":null,"test":false ,  "financial_status":"paid"}   \n'
).encode()


def _odd_headers(secret: str = SAMPLE_SECRET) -> dict:
    _, headers = sample("orders-paid")
    return {**headers, "X-Shopify-Hmac-Sha256": sign(ODD_BODY, secret)}


def test_exact_non_ascii_bytes_with_odd_spacing_are_accepted(acme):
    shop = shopify_install(acme)

    response = post_webhook(acme.client(), shop, ODD_BODY, _odd_headers())

    assert response.status_code == 200
    [purchase] = _rows(acme, Purchase)
    assert purchase.amount == Decimal("12.50")
    assert purchase.currency == "EUR"
    assert purchase.items[0]["name"] == "Tasse – café ☕"
    assert purchase.properties == {"order_name": "#Ünïcødé"}


@pytest.mark.parametrize(
    "change",
    ["reserialised", "hex_digest", "no_header", "other_organisations_secret", "empty_header"],
)
def test_anything_but_the_exact_signature_is_refused_and_nothing_stored(acme, borealis, change):
    shop = shopify_install(acme)
    borealis_shop = shopify_install(borealis, secret="borealis-own-secret")
    body, headers = ODD_BODY, _odd_headers()
    if change == "reserialised":
        body = json.dumps(json.loads(ODD_BODY)).encode()
    elif change == "hex_digest":
        import hashlib
        import hmac

        headers["X-Shopify-Hmac-Sha256"] = hmac.new(
            SAMPLE_SECRET.encode(), body, hashlib.sha256
        ).hexdigest()
    elif change == "no_header":
        headers["X-Shopify-Hmac-Sha256"] = None
    elif change == "other_organisations_secret":
        headers["X-Shopify-Hmac-Sha256"] = sign(body, "borealis-own-secret")
    elif change == "empty_header":
        headers["X-Shopify-Hmac-Sha256"] = ""

    response = post_webhook(acme.client(), shop, body, headers)

    assert response.status_code == 401
    assert response.json() == {
        "detail": "The webhook signature is not valid.",
        "code": "invalid_signature",
    }
    assert _count(acme, Purchase) == 0
    assert _count(acme, WebhookReceipt) == 0
    assert _count(borealis, Purchase, installation=borealis_shop) == 0


def test_shop_domain_must_match_the_installation(acme):
    shop = shopify_install(acme)

    wrong = post_sample(
        acme.client(), shop, "orders-paid", **{"X-Shopify-Shop-Domain": "evil.myshopify.com"}
    )
    missing = post_sample(acme.client(), shop, "orders-paid", **{"X-Shopify-Shop-Domain": None})

    assert (wrong.status_code, missing.status_code) == (401, 401)
    assert _count(acme, Purchase) == 0


def test_headers_without_the_x_prefix_are_read_too(acme):
    shop = shopify_install(acme)
    _, headers = sample("orders-paid")
    unprefixed = {name.removeprefix("X-"): value for name, value in headers.items()}

    response = post_webhook(acme.client(), shop, sample("orders-paid")[0], unprefixed)

    assert response.json() == {"status": "recorded"}
    assert _rows(acme, WebhookReceipt)[0].webhook_id == headers["X-Shopify-Webhook-Id"]


def test_the_previous_secret_still_works_during_rotation(acme):
    shop = shopify_install(acme)
    with tenant_context(acme.organisation):
        installation_rotate_secret(installation=shop, value="the-new-secret", actor=ACTOR)

    old = post_webhook(acme.client(), shop, ODD_BODY, _odd_headers(SAMPLE_SECRET))
    new_body, new_headers = signed_copy("orders-paid", secret="the-new-secret")
    new = post_webhook(acme.client(), shop, new_body, new_headers)

    assert (old.status_code, new.status_code) == (200, 200)
    assert _count(acme, Purchase) == 2


def test_the_previous_secret_is_refused_after_the_grace_period(acme):
    shop = shopify_install(acme)
    with tenant_context(acme.organisation):
        installation_rotate_secret(installation=shop, value="the-new-secret", actor=ACTOR)
        rotated = Installation.objects.get(pk=shop.pk)
        expired = datetime.now(UTC) - timedelta(seconds=1)
        rotated.config = {**rotated.config, PREVIOUS_EXPIRES_KEY: expired.isoformat()}
        rotated.save(update_fields=["config"])

    response = post_webhook(acme.client(), shop, ODD_BODY, _odd_headers(SAMPLE_SECRET))

    assert response.status_code == 401
    assert _count(acme, Purchase) == 0


# Cross-tenant -----------------------------------------------------------------------------


def test_an_installation_id_from_another_organisation_is_not_found(acme, borealis):
    shop = shopify_install(acme)

    response = post_sample(borealis.client(), shop, "orders-paid")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert _count(acme, Purchase) == 0
    assert _count(borealis, Purchase) == 0


# Bad input --------------------------------------------------------------------------------


def _signed(acme_shop, client, body: bytes, **overrides):
    _, headers = sample("orders-paid")
    return post_webhook(
        client,
        acme_shop,
        body,
        {**headers, "X-Shopify-Hmac-Sha256": sign(body, SAMPLE_SECRET)},
        **overrides,
    )


def test_unknown_or_malformed_installation_ids_are_not_found(acme):
    client = acme.client()
    _, headers = sample("orders-paid")

    unknown = client.post(
        f"/api/v1/integrations/shopify/{uuid.uuid4()}/webhooks",
        data=b"{}",
        content_type="application/json",
    )
    malformed = client.post(
        "/api/v1/integrations/shopify/not-a-uuid/webhooks",
        data=b"{}",
        content_type="application/json",
    )

    assert (unknown.status_code, malformed.status_code) == (404, 404)


def test_malformed_json_is_a_400(acme):
    shop = shopify_install(acme)

    response = _signed(shop, acme.client(), b'{"id": 1,')

    assert response.status_code == 400
    assert response.json() == {"detail": "The body is not valid JSON.", "code": "malformed_json"}


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": 1, "note": "\\ud800"}',
        b'{"id": 1, "total_price": NaN}',
        b'{"id": 1, "total_price": 1e400}',
        b"[" * 2000 + b"]" * 2000,
        b'\xef\xbb\xbf{"id": 1}',
    ],
    ids=["lone-surrogate", "nan", "infinity", "too-deep", "byte-order-mark"],
)
def test_json_that_cannot_be_stored_exactly_is_a_400_and_nothing_is_kept(acme, body):
    shop = shopify_install(acme)

    response = _signed(shop, acme.client(), body)

    assert response.status_code == 400
    assert response.json() == {"detail": "The body is not valid JSON.", "code": "malformed_json"}
    with tenant_context(acme.organisation):
        assert (WebhookReceipt.objects.count(), Purchase.objects.count()) == (0, 0)


def test_a_body_that_is_not_json_content_is_a_415(acme):
    shop = shopify_install(acme)
    body, _ = sample("orders-paid")

    response = _signed(shop, acme.client(), body, **{"Content-Type": "text/plain"})

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert _count(acme, Purchase) == 0


@override_settings(MAX_INGEST_BODY_BYTES=4096, DATA_UPLOAD_MAX_MEMORY_SIZE=4096)
def test_a_body_over_the_limit_is_a_413_and_nothing_is_stored(acme):
    shop = shopify_install(acme)

    response = post_sample(acme.client(), shop, "orders-paid")

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert _count(acme, Purchase) == 0
    assert _count(acme, WebhookReceipt) == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"total_price_set": None, "total_price": None}, "total_price_set"),
        (
            {"total_price_set": {"shop_money": {"amount": "1.00", "currency_code": "usd"}}},
            "total_price_set.shop_money.currency_code",
        ),
        (
            {"total_price_set": {"shop_money": {"amount": "lots", "currency_code": "USD"}}},
            "total_price_set.shop_money.amount",
        ),
        ({"id": None}, "id"),
        ({"processed_at": "yesterday"}, "processed_at"),
        ({"processed_at": None, "created_at": "2025-03-18T14:02:37"}, "created_at"),
        (
            {"line_items": [{"sku": "A\u0000B", "name": "x", "quantity": 1, "price": "1.00"}]},
            "line_items.0.sku",
        ),
        (
            {"line_items": [{"sku": "A", "name": "x", "quantity": "two", "price": "1.00"}]},
            "line_items.0.quantity",
        ),
        ({"customer": "someone"}, "customer"),
    ],
)
def test_missing_or_invalid_fields_are_a_422_naming_the_field(acme, changes, field):
    shop = shopify_install(acme)
    body, headers = signed_copy("orders-paid", **changes)

    response = post_webhook(acme.client(), shop, body, headers)

    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["errors"]]
    assert _count(acme, Purchase) == 0
    assert _count(acme, WebhookReceipt) == 0


def test_a_json_body_that_is_not_an_object_is_a_422(acme):
    shop = shopify_install(acme)

    response = _signed(shop, acme.client(), b"[1, 2, 3]")

    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "body", "message": "Must be a JSON object."}]


# Identities, deliveries and work due ------------------------------------------------------


def test_an_unmatched_customer_is_held_for_the_identity_hold(acme):
    shop = shopify_install(acme)
    mixpanel_install(acme)

    with override_settings(IDENTITY_HOLD_SECONDS=900):
        post_sample(acme.client(), shop, "orders-paid")

    [purchase] = _rows(acme, Purchase)
    [delivery] = _rows(acme, Delivery)
    assert delivery.state == DeliveryState.AWAITING_IDENTITY
    assert delivery.next_attempt_at == purchase.received_at + timedelta(seconds=900)
    assert delivery.distinct_id is None
    assert delivery.event_time is None
    assert WorkDue.objects.get(organisation=acme.organisation).due_at == delivery.next_attempt_at


def test_a_known_shopper_goes_out_at_once_with_their_user_id(acme):
    shop = shopify_install(acme)
    mixpanel_install(acme)
    with tenant_context(acme.organisation):
        user = Customer.objects.create(email="casey@example.com")
        Identity.objects.create(customer=user, installation=shop, external_id="7301550110001")

    post_sample(acme.client(), shop, "orders-paid")

    [purchase] = _rows(acme, Purchase)
    [delivery] = _rows(acme, Delivery)
    assert purchase.customer_id == user.pk
    assert delivery.state == DeliveryState.PENDING
    assert delivery.distinct_id == str(user.pk)
    assert delivery.event_time == purchase.occurred_at
    assert WorkDue.objects.get(organisation=acme.organisation).due_at == purchase.received_at


def test_one_delivery_per_active_destination_only(acme):
    shop = shopify_install(acme)
    first = mixpanel_install(acme, name="Project one")
    second = mixpanel_install(acme, name="Project two", token="token-2")
    disabled = mixpanel_install(acme, name="Old project", token="token-3")
    with tenant_context(acme.organisation):
        installation_set_active(installation=disabled, is_active=False, actor=ACTOR)

    post_sample(acme.client(), shop, "orders-paid")

    deliveries = _rows(acme, Delivery)
    assert sorted(d.destination_id for d in deliveries) == sorted([first.pk, second.pk])
    assert len({d.insert_id for d in deliveries}) == 2


def test_a_refund_reaches_the_same_person_as_its_released_purchase(acme):
    shop = shopify_install(acme, purchase_topic="orders/create")
    mixpanel_install(acme)
    post_sample(acme.client(), shop, "orders-create-guest")
    body, headers = signed_copy("refunds-create", order_id=6190245830033)

    post_webhook(acme.client(), shop, body, headers)

    with tenant_context(acme.organisation):
        refund_delivery = Delivery.objects.get(purchase__kind="refund")
    assert refund_delivery.state == DeliveryState.PENDING
    assert refund_delivery.distinct_id == ""


def test_dispatch_is_queued_after_commit_once_per_destination(
    acme, monkeypatch, django_capture_on_commit_callbacks
):
    shop = shopify_install(acme, purchase_topic="orders/create")
    first = mixpanel_install(acme, name="Project one")
    second = mixpanel_install(acme, name="Project two", token="token-2")
    queued = []
    monkeypatch.setattr(
        "events.tasks.dispatch_enqueue",
        lambda *, schema_name, destination_id: queued.append((schema_name, destination_id)),
    )

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post_sample(acme.client(), shop, "orders-create-guest")
    assert queued == []
    for callback in callbacks:
        callback()

    assert sorted(queued) == sorted([("acme", str(first.pk)), ("acme", str(second.pk))])


def test_a_held_purchase_queues_no_dispatch(acme, monkeypatch, django_capture_on_commit_callbacks):
    shop = shopify_install(acme)
    mixpanel_install(acme)
    queued = []
    monkeypatch.setattr("events.tasks.dispatch_enqueue", lambda **kwargs: queued.append(kwargs))

    with django_capture_on_commit_callbacks(execute=True):
        post_sample(acme.client(), shop, "orders-paid")

    assert queued == []


def test_the_queries_per_webhook_are_the_same_with_one_and_five_destinations(acme):
    shop = shopify_install(acme)
    mixpanel_install(acme)
    # Warm the host lookup cache, as on a running server.
    post_sample(acme.client(), shop, "orders-paid", **{"X-Shopify-Topic": "products/update"})
    one = CaptureQueriesContext(connection)
    with one:
        post_sample(acme.client(), shop, "orders-paid")
    for index in range(4):
        mixpanel_install(acme, name=f"Project {index}", token=f"token-{index}")
    # The remembered source no longer holds: this one reads it again.
    post_sample(acme.client(), shop, "orders-paid", **{"X-Shopify-Topic": "products/update"})
    body, headers = signed_copy("orders-paid", id=123)

    five = CaptureQueriesContext(connection)
    with five:
        post_webhook(acme.client(), shop, body, {**headers, "X-Shopify-Webhook-Id": "second"})

    assert _count(acme, Delivery) == 1 + 5
    assert len(five.captured_queries) == len(one.captured_queries) == 1


def test_a_refund_at_an_absurd_order_rate_is_kept_as_paid_not_refused(acme):
    shop = shopify_install(acme)
    totals = {
        "shop_money": {"amount": "99999999999999", "currency_code": "USD"},
        "presentment_money": {"amount": "0.000001", "currency_code": "EUR"},
    }
    order, order_headers = signed_copy("orders-paid", total_price_set=totals)
    refund_body, refund_headers = sample("refunds-create")
    refund = json.loads(refund_body)
    refund["transactions"][0]["currency"] = "EUR"
    refund["transactions"][0]["amount"] = "10.00"
    changed, headers = signed_copy("refunds-create", transactions=refund["transactions"])

    assert post_webhook(acme.client(), shop, order, order_headers).status_code == 200
    response = post_webhook(acme.client(), shop, changed, headers)

    assert response.status_code == 200
    with tenant_context(acme.organisation):
        adjustment = Purchase.objects.get(kind=PurchaseKind.REFUND)
    assert (adjustment.amount, adjustment.currency) == (Decimal("-10.00"), "EUR")


def test_a_paid_order_replayed_as_a_cancellation_is_refused_and_changes_nothing(acme):
    shop = shopify_install(acme)
    body, headers = sample("orders-paid")
    assert post_webhook(acme.client(), shop, body, headers).status_code == 200

    replayed = {
        **headers,
        "X-Shopify-Topic": "orders/cancelled",
        "X-Shopify-Webhook-Id": "replayed-as-cancelled",
    }
    response = post_webhook(acme.client(), shop, body, replayed)

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "cancelled_at", "message": "A cancelled order has its cancellation time."}
    ]
    with tenant_context(acme.organisation):
        assert Purchase.objects.get().status == "paid"
        assert WebhookReceipt.objects.count() == 1
