"""Property-based runs of both ingest endpoints: whatever arrives, never a 500.

Bodies are purchase-shaped objects whose every field may hold any JSON value (or a
plausible one), batches of them, arbitrary JSON and arbitrary bytes. Shopify bodies are
signed, so they reach the parsers rather than stopping at the signature.
"""

import json
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .ingest_support import (
    SAMPLE_SECRET,
    api_install,
    post_purchases,
    post_webhook,
    sample,
    shopify_install,
    sign,
)

EXAMPLES = 150
RUN = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
any_json = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
amounts = st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str) | st.sampled_from(
    ["10.00", "-3.5", "1e30", "0.0000001", " 5 ", ""]
)
times = st.sampled_from(
    [
        "2025-03-18T14:02:35-04:00",
        "2025-03-18T14:02:35Z",
        "2025-03-18",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+14:00",
        "now",
    ]
)
currencies = st.sampled_from(["USD", "EUR", "usd", "XXX", "", "€"])
ids = st.integers(min_value=-(10**20), max_value=10**20) | st.text(max_size=300)
money = st.fixed_dictionaries(
    {"amount": amounts | any_json, "currency_code": currencies | any_json}
)
items = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "sku": st.text(max_size=20) | any_json,
            "name": st.text(max_size=20) | any_json,
            "title": any_json,
            "quantity": st.integers(min_value=-5, max_value=10**9) | any_json,
            "price": amounts | any_json,
        },
    )
    | any_json,
    max_size=3,
)
transactions = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "kind": st.sampled_from(["refund", "sale"]) | any_json,
            "status": st.sampled_from(["success", "failure"]) | any_json,
            "amount": amounts | any_json,
            "currency": currencies | any_json,
            "test": any_json,
        },
    )
    | any_json,
    max_size=3,
)
refund = st.fixed_dictionaries(
    {},
    optional={
        "id": ids | any_json,
        "order_id": ids | any_json,
        "processed_at": times | any_json,
        "created_at": times | any_json,
        "transactions": transactions | any_json,
        "refund_line_items": st.lists(
            st.fixed_dictionaries({"quantity": any_json, "line_item": items | any_json})
        ),
    },
)
shopify_payloads = st.fixed_dictionaries(
    {},
    optional={
        "id": ids | any_json,
        "order_id": ids | any_json,
        "processed_at": times | any_json,
        "created_at": times | any_json,
        "total_price_set": st.fixed_dictionaries({"shop_money": money, "presentment_money": money})
        | any_json,
        "total_price": amounts | any_json,
        "currency": currencies | any_json,
        "line_items": items | any_json,
        "customer": st.fixed_dictionaries({"id": ids | any_json}) | any_json,
        "test": any_json,
        "cancelled_at": any_json,
        "financial_status": any_json,
        "name": any_json,
        "transactions": transactions | any_json,
        "refund_line_items": any_json,
        "refunds": st.lists(refund, max_size=2) | any_json,
        "orders_requested": st.lists(ids, max_size=3) | any_json,
        "orders_to_redact": st.lists(ids, max_size=3) | any_json,
        "data_request": st.fixed_dictionaries({"id": ids | any_json}) | any_json,
    },
)
topics = st.sampled_from(
    [
        "orders/paid",
        "orders/create",
        "refunds/create",
        "orders/cancelled",
        "customers/data_request",
        "customers/redact",
        "shop/redact",
        "products/update",
        "",
    ]
)
api_purchase = st.fixed_dictionaries(
    {},
    optional={
        "event_id": ids | any_json,
        "order_id": ids | any_json,
        "user_id": st.uuids().map(str) | any_json,
        "external_user_id": ids | any_json,
        "amount": amounts | any_json,
        "currency": currencies | any_json,
        "occurred_at": times | any_json,
        "items": items | any_json,
        "properties": st.dictionaries(st.text(max_size=12), scalars | any_json, max_size=5)
        | any_json,
    },
)


def _encoded(value) -> bytes:
    return json.dumps(value).encode()


def _one_field_changed(base: dict):
    """`base` with one of its fields replaced by anything, or dropped."""
    replacement = any_json | ids | amounts | times | currencies | st.just(...)
    return st.tuples(st.sampled_from(sorted(base)), replacement).map(
        lambda change: {
            **{k: v for k, v in base.items() if k != change[0]},
            **({} if change[1] is ... else {change[0]: change[1]}),
        }
    )


SHOPIFY_SAMPLES = [
    json.loads(sample(name)[0]) for name in ("orders-paid", "refunds-create", "orders-cancelled")
]
VALID_API_PURCHASE = {
    "event_id": "e-1",
    "order_id": "o-1",
    "external_user_id": "crm-1",
    "amount": "12.50",
    "currency": "EUR",
    "occurred_at": "2025-03-18T14:02:35Z",
    "items": [{"sku": "s", "name": "n", "quantity": 1, "price": "12.50"}],
    "properties": {"channel": "web"},
}
nearly_valid_shopify = st.one_of(*[_one_field_changed(payload) for payload in SHOPIFY_SAMPLES])
nearly_valid_api = _one_field_changed(VALID_API_PURCHASE).map(
    lambda purchase: (
        {**purchase, "event_id": str(uuid.uuid4())}
        if purchase.get("event_id") == "e-1"
        else purchase
    )
)

shopify_bodies = (
    nearly_valid_shopify.map(_encoded)
    | shopify_payloads.map(_encoded)
    | any_json.map(_encoded)
    | st.binary(max_size=200)
)
api_bodies = (
    nearly_valid_api.map(_encoded)
    | st.fixed_dictionaries({"purchases": st.lists(nearly_valid_api, max_size=4)}).map(_encoded)
    | api_purchase.map(_encoded)
    | st.fixed_dictionaries({"purchases": st.lists(api_purchase, max_size=4) | any_json}).map(
        _encoded
    )
    | any_json.map(_encoded)
    | st.binary(max_size=200)
)


def test_no_signed_shopify_webhook_is_ever_a_500(acme):
    shop = shopify_install(acme, include_test_orders=True)
    client = acme.client()
    _, headers = sample("orders-paid")

    @RUN
    @given(
        body=shopify_bodies,
        topic=topics,
        content_type=st.sampled_from(["application/json"] * 4 + ["text/plain"]),
    )
    def webhook_answers_below_500(body, topic, content_type):
        response = post_webhook(
            client,
            shop,
            body,
            {
                **headers,
                "Content-Type": content_type,
                "X-Shopify-Topic": topic,
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                "X-Shopify-Hmac-Sha256": sign(body, SAMPLE_SECRET),
            },
        )
        assert response.status_code < 500, response.content

    webhook_answers_below_500()


def test_no_api_integration_request_is_ever_a_500(acme):
    installation, key = api_install(acme)
    client = acme.client()

    @RUN
    @given(
        body=api_bodies,
        content_type=st.sampled_from(["application/json"] * 4 + ["application/xml"]),
    )
    def purchases_answer_below_500(body, content_type):
        response = post_purchases(client, installation, key, body, content_type=content_type)
        assert response.status_code < 500, response.content

    purchases_answer_below_500()
