import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from events.models import Customer, Delivery, DeliveryState, Purchase
from tests.accounts.factories import api_credentials

from .ingest_support import (
    api_install,
    mixpanel_install,
    post_purchases,
    post_sample,
    shopify_install,
)


def _stored(org, installation, *, customer=None, **fields) -> Purchase:
    values = {
        "kind": "purchase",
        "dedupe_key": str(uuid.uuid4()),
        "order_id": "1",
        "amount": Decimal("10.00"),
        "currency": "USD",
        "occurred_at": datetime(2025, 3, 1, tzinfo=UTC),
        **fields,
    }
    with tenant_context(org.organisation):
        return Purchase.objects.create(installation=installation, customer=customer, **values)


def test_purchases_are_listed_with_their_delivery_states(acme):
    shop = shopify_install(acme)
    mixpanel = mixpanel_install(acme)
    post_sample(acme.client(), shop, "orders-paid")
    post_sample(acme.client(), shop, "refunds-create")
    credentials = api_credentials(acme, "purchases:read")

    response = credentials.client().get("/api/v1/purchases")

    assert response.status_code == 200
    with tenant_context(acme.organisation):
        purchase = Purchase.objects.get(kind="purchase")
        refund = Purchase.objects.get(kind="refund")
    held = {
        "installation_id": str(mixpanel.pk),
        "state": "awaiting_identity",
        "attempts": 0,
        "last_error": "",
    }
    assert response.json() == {
        "count": 2,
        "items": [
            {
                "id": str(refund.pk),
                "installation_id": str(shop.pk),
                "kind": "refund",
                "order_id": "6190245830011",
                "event_id": "8a4d2b17-0e6c-4f93-b5a1-7c3e90d4e203",
                "user_id": None,
                "amount": "-34.99",
                "currency": "USD",
                "occurred_at": "2025-03-24T13:15:12Z",
                "status": "refunded",
                "deliveries": [held],
            },
            {
                "id": str(purchase.pk),
                "installation_id": str(shop.pk),
                "kind": "purchase",
                "order_id": "6190245830011",
                "event_id": "3f0c9a6e-51d2-4b8e-a7c4-2d9e61b0c102",
                "user_id": None,
                "amount": "86.65",
                "currency": "USD",
                "occurred_at": "2025-03-18T18:02:35Z",
                "status": "paid",
                "deliveries": [held],
            },
        ],
    }


def test_purchases_filter_by_installation_user_order_kind_and_time(acme):
    shop = shopify_install(acme)
    api, _ = api_install(acme)
    with tenant_context(acme.organisation):
        user = Customer.objects.create(email="pat@example.com")
    early = _stored(acme, shop, order_id="A", occurred_at=datetime(2025, 1, 1, tzinfo=UTC))
    late = _stored(acme, shop, order_id="B", customer=user)
    other = _stored(
        acme,
        api,
        order_id="A",
        kind="refund",
        amount=Decimal("-1.5"),
        occurred_at=datetime(2025, 3, 2, tzinfo=UTC),
    )
    client = api_credentials(acme, "purchases:read").client()

    def ids(**query):
        response = client.get("/api/v1/purchases", query)
        assert response.status_code == 200
        return [item["id"] for item in response.json()["items"]]

    assert ids(installation_id=str(shop.pk)) == [str(late.pk), str(early.pk)]
    assert ids(user_id=str(user.pk)) == [str(late.pk)]
    assert ids(order_id="A") == [str(other.pk), str(early.pk)]
    assert ids(kind="refund") == [str(other.pk)]
    assert ids(occurred_before="2025-02-01T00:00:00Z") == [str(early.pk)]
    assert ids(occurred_after="2025-03-01T00:00:00Z") == [str(other.pk), str(late.pk)]


def test_limit_is_clamped_to_100_and_offset_pages(acme):
    shop = shopify_install(acme)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with tenant_context(acme.organisation):
        Purchase.objects.bulk_create(
            Purchase(
                installation=shop,
                kind="purchase",
                dedupe_key=str(n),
                order_id=str(n),
                amount=Decimal(n),
                currency="USD",
                occurred_at=start + timedelta(minutes=n),
            )
            for n in range(105)
        )
    client = api_credentials(acme, "purchases:read").client()

    clamped = client.get("/api/v1/purchases", {"limit": 500}).json()
    last_page = client.get("/api/v1/purchases", {"limit": 10, "offset": 100}).json()
    beyond = client.get("/api/v1/purchases", {"offset": 1000}).json()

    assert (clamped["count"], len(clamped["items"])) == (105, 100)
    assert [item["order_id"] for item in last_page["items"]] == ["4", "3", "2", "1", "0"]
    assert beyond == {"count": 105, "items": []}


def test_the_queries_for_a_page_do_not_grow_with_its_size(acme, django_assert_max_num_queries):
    shop = shopify_install(acme)
    mixpanel_install(acme)
    mixpanel_install(acme, name="Second", token="token-2")
    for n in range(20):
        _stored(acme, shop, order_id=str(n))
    client = api_credentials(acme, "purchases:read").client()
    client.get("/api/v1/purchases")

    with django_assert_max_num_queries(12):
        response = client.get("/api/v1/purchases")

    assert response.json()["count"] == 20


@pytest.mark.parametrize(
    "query",
    [
        {"installation_id": "nope"},
        {"user_id": "1"},
        {"kind": "gift"},
        {"occurred_after": "soon"},
        {"occurred_after": "0001-01-01T00:00:00+07:00"},
        {"occurred_before": "9999-12-31T23:59:59-23:00"},
        {"limit": 0},
        {"offset": -1},
        {"limit": "many"},
    ],
)
def test_invalid_filters_are_a_422(acme, query):
    client = api_credentials(acme, "purchases:read").client()

    response = client.get("/api/v1/purchases", query)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize("query", ["?order_id=100%25", "?order_id=%zz", "?order_id=%00"])
def test_odd_query_strings_never_fail(acme, query):
    client = api_credentials(acme, "purchases:read").client()

    response = client.get(f"/api/v1/purchases{query}")

    assert response.status_code in (200, 400, 422)


def test_time_filters_with_any_offset_or_extreme_dates_never_fail(acme):
    shop = shopify_install(acme)
    _stored(acme, shop)
    client = api_credentials(acme, "purchases:read").client()

    far_offset = client.get("/api/v1/purchases", {"occurred_after": "2025-02-28T06:00:00-16:28"})
    ancient = client.get("/api/v1/purchases", {"occurred_before": "0001-01-01T00:00:00+01:00"})

    assert far_offset.status_code == 200
    assert far_offset.json()["count"] == 1
    assert ancient.status_code == 422


def test_a_token_without_purchases_read_is_a_403(acme):
    client = api_credentials(acme, "users:read").client()

    response = client.get("/api/v1/purchases")

    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"


def test_no_token_is_a_401(acme):
    response = acme.client().get("/api/v1/purchases")

    assert response.status_code == 401


def test_an_acme_token_on_borealis_is_a_401(acme, borealis):
    credentials = api_credentials(acme, "purchases:read")

    response = credentials.client().get("/api/v1/purchases", HTTP_HOST=borealis.host)

    assert response.status_code == 401


def test_each_organisation_lists_only_its_own_purchases(acme, borealis):
    acme_api, acme_key = api_install(acme)
    borealis_api, borealis_key = api_install(borealis)
    payload = {
        "event_id": "e1",
        "amount": "1.00",
        "currency": "USD",
        "occurred_at": "2025-01-01T00:00:00Z",
    }
    post_purchases(acme.client(), acme_api, acme_key, payload)
    post_purchases(borealis.client(), borealis_api, borealis_key, {**payload, "event_id": "e2"})

    acme_items = api_credentials(acme, "purchases:read").client().get("/api/v1/purchases").json()
    borealis_items = (
        api_credentials(borealis, "purchases:read").client().get("/api/v1/purchases").json()
    )

    assert [i["event_id"] for i in acme_items["items"]] == ["e1"]
    assert [i["event_id"] for i in borealis_items["items"]] == ["e2"]


def test_delivery_states_are_reported_as_stored(acme):
    shop = shopify_install(acme)
    mixpanel = mixpanel_install(acme)
    post_sample(acme.client(), shop, "orders-paid")
    with tenant_context(acme.organisation):
        Delivery.objects.update(
            state=DeliveryState.DEAD, attempts=12, last_error="HTTP 400: bad event"
        )

    response = api_credentials(acme, "purchases:read").client().get("/api/v1/purchases")

    assert response.json()["items"][0]["deliveries"] == [
        {
            "installation_id": str(mixpanel.pk),
            "state": "dead",
            "attempts": 12,
            "last_error": "HTTP 400: bad event",
        }
    ]
