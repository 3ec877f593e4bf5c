import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test.utils import override_settings
from django_tenants.utils import tenant_context

from catalog_integrations.services import installation_rotate_secret, installation_set_active
from events.models import Customer, Delivery, DeliveryState, Identity, Purchase, WebhookReceipt

from .ingest_support import ACTOR, api_install, mixpanel_install, post_purchases, purchases_path


def _purchase(**changes) -> dict:
    payload = {
        "event_id": "evt-1",
        "order_id": "A-1001",
        "amount": "19.99",
        "currency": "EUR",
        "occurred_at": "2025-03-18T14:02:35+01:00",
        "items": [{"sku": "SKU-1", "name": "Mug", "quantity": 2, "price": "9.995"}],
        "properties": {"channel": "phone", "priority": 2, "gift": True, "note": None},
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not ...}


def _rows(org, model, **filters):
    with tenant_context(org.organisation):
        return list(model.objects.filter(**filters))


def test_one_purchase_is_recorded_with_every_field(acme):
    installation, key = api_install(acme)

    response = post_purchases(acme.client(), installation, key, _purchase())

    assert response.status_code == 201
    [purchase] = _rows(acme, Purchase)
    assert response.json() == {"id": str(purchase.pk), "status": "created"}
    assert purchase.installation_id == installation.pk
    assert purchase.kind == "purchase"
    assert purchase.event_id == "evt-1"
    assert purchase.dedupe_key == "evt-1"
    assert purchase.order_id == "A-1001"
    assert purchase.amount == Decimal("19.99")
    assert purchase.currency == "EUR"
    assert purchase.occurred_at == datetime(2025, 3, 18, 13, 2, 35, tzinfo=UTC)
    assert purchase.items == [{"sku": "SKU-1", "name": "Mug", "quantity": 2, "price": "9.995"}]
    assert purchase.properties == {"channel": "phone", "priority": 2, "gift": True, "note": None}
    assert purchase.customer_id is None
    assert purchase.external_customer_id == ""


def test_sending_an_event_again_answers_with_the_stored_purchase(acme):
    installation, key = api_install(acme)
    first = post_purchases(acme.client(), installation, key, _purchase())

    again = post_purchases(acme.client(), installation, key, _purchase(amount="500.00"))

    assert again.status_code == 200
    assert again.json() == {"id": first.json()["id"], "status": "unchanged"}
    [purchase] = _rows(acme, Purchase)
    assert purchase.amount == Decimal("19.99")


def test_an_amount_sent_as_a_json_number_is_read_exactly(acme):
    installation, key = api_install(acme)
    body = (
        b'{"event_id": "n1", "amount": 0.1, "currency": "USD",'
        b' "occurred_at": "2025-01-01T00:00:00Z"}'
    )

    response = post_purchases(acme.client(), installation, key, body)

    assert response.status_code == 201
    assert _rows(acme, Purchase)[0].amount == Decimal("0.1")


def test_a_known_user_id_goes_out_at_once_under_that_user(acme):
    installation, key = api_install(acme)
    mixpanel_install(acme)
    with tenant_context(acme.organisation):
        user = Customer.objects.create(email="pat@example.com")

    post_purchases(acme.client(), installation, key, _purchase(user_id=str(user.pk)))

    [purchase] = _rows(acme, Purchase)
    [delivery] = _rows(acme, Delivery)
    assert purchase.customer_id == user.pk
    assert (delivery.state, delivery.distinct_id) == (DeliveryState.PENDING, str(user.pk))


def test_an_unknown_user_id_is_a_422_and_nothing_is_stored(acme):
    installation, key = api_install(acme)

    response = post_purchases(
        acme.client(), installation, key, _purchase(user_id=str(uuid.uuid4()))
    )

    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "user_id", "message": "No user has this id."}]
    assert _rows(acme, Purchase) == []
    assert _rows(acme, WebhookReceipt) == []


def test_an_external_user_id_is_matched_through_this_installations_identities(acme):
    installation, key = api_install(acme)
    other, _ = api_install(acme, name="Other system")
    mixpanel_install(acme)
    with tenant_context(acme.organisation):
        user = Customer.objects.create(email="pat@example.com")
        Identity.objects.create(customer=user, installation=installation, external_id="crm-7")
        Identity.objects.create(customer=user, installation=other, external_id="crm-8")

    post_purchases(acme.client(), installation, key, _purchase(external_user_id="crm-7"))
    post_purchases(
        acme.client(), installation, key, _purchase(event_id="evt-2", external_user_id="crm-8")
    )

    matched, held = _rows(acme, Purchase, event_id="evt-1") + _rows(
        acme, Purchase, event_id="evt-2"
    )
    assert matched.customer_id == user.pk
    assert (held.customer_id, held.external_customer_id) == (None, "crm-8")
    with tenant_context(acme.organisation):
        assert Delivery.objects.get(purchase=held).state == DeliveryState.AWAITING_IDENTITY


def test_a_batch_answers_per_item(acme):
    installation, key = api_install(acme)
    post_purchases(acme.client(), installation, key, _purchase(event_id="old"))
    batch = {
        "purchases": [
            _purchase(event_id="new-1"),
            _purchase(event_id="bad", amount="lots", currency="usd"),
            _purchase(event_id="old"),
            _purchase(event_id="new-1"),
            "not a purchase",
        ]
    }

    response = post_purchases(acme.client(), installation, key, batch)

    assert response.status_code == 200
    results = response.json()["results"]
    with tenant_context(acme.organisation):
        ids = dict(Purchase.objects.values_list("event_id", "pk"))
    assert results == [
        {"index": 0, "status": "created", "id": str(ids["new-1"]), "error": None},
        {
            "index": 1,
            "status": "error",
            "id": None,
            "error": {
                "detail": "The purchase is not valid.",
                "code": "validation_error",
                "errors": [
                    {"field": "amount", "message": "Must be a decimal number."},
                    {
                        "field": "currency",
                        "message": "Must be an ISO 4217 currency code, like USD.",
                    },
                ],
            },
        },
        {"index": 2, "status": "unchanged", "id": str(ids["old"]), "error": None},
        {"index": 3, "status": "unchanged", "id": str(ids["new-1"]), "error": None},
        {
            "index": 4,
            "status": "error",
            "id": None,
            "error": {
                "detail": "The purchase is not valid.",
                "code": "validation_error",
                "errors": [{"field": "body", "message": "A purchase must be a JSON object."}],
            },
        },
    ]
    assert sorted(ids) == ["new-1", "old"]


def test_a_batch_of_more_than_500_is_a_413(acme):
    installation, key = api_install(acme)
    batch = {"purchases": [_purchase(event_id=f"e{n}") for n in range(501)]}

    response = post_purchases(acme.client(), installation, key, batch)

    assert response.status_code == 413
    assert response.json()["code"] == "too_many_items"
    assert _rows(acme, Purchase) == []


def test_a_batch_of_500_is_recorded(acme):
    installation, key = api_install(acme)
    batch = {"purchases": [_purchase(event_id=f"e{n}") for n in range(500)]}

    response = post_purchases(acme.client(), installation, key, batch)

    assert response.status_code == 200
    assert {r["status"] for r in response.json()["results"]} == {"created"}
    with tenant_context(acme.organisation):
        assert Purchase.objects.count() == 500


@pytest.mark.parametrize(
    ("batch", "field"),
    [
        ({"purchases": []}, "purchases"),
        ({"purchases": {"a": 1}}, "purchases"),
        ({"purchases": [], "x": 1}, "x"),
    ],
)
def test_a_malformed_batch_is_a_422(acme, batch, field):
    installation, key = api_install(acme)

    response = post_purchases(acme.client(), installation, key, batch)

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"event_id": ...}, "event_id"),
        ({"event_id": ""}, "event_id"),
        ({"event_id": "x" * 256}, "event_id"),
        ({"amount": ...}, "amount"),
        ({"amount": "1.1234567"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "1e20"}, "amount"),
        ({"amount": True}, "amount"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"occurred_at": "2025-03-18T14:02:35"}, "occurred_at"),
        ({"occurred_at": "last tuesday"}, "occurred_at"),
        ({"user_id": "not-a-uuid"}, "user_id"),
        ({"user_id": str(uuid.uuid4()), "external_user_id": "crm-1"}, "external_user_id"),
        ({"items": [{"sku": "a", "name": "b", "quantity": -1, "price": "1"}]}, "items.0.quantity"),
        ({"items": [{"sku": "a", "name": "b", "quantity": 1}]}, "items.0.price"),
        ({"items": "all of them"}, "items"),
        ({"properties": {"nested": {"a": 1}}}, "properties.nested"),
        ({"properties": {"$insert_id": "x"}}, "properties.$insert_id"),
        ({"properties": {"amount": 5}}, "properties.amount"),
        ({"properties": {"note": "a\u0000b"}}, "properties.note"),
        ({"order_id": "a\u0000b"}, "order_id"),
        ({"kind": "refund"}, "kind"),
    ],
)
def test_missing_or_invalid_fields_are_a_422_naming_the_field(acme, changes, field):
    installation, key = api_install(acme)

    response = post_purchases(acme.client(), installation, key, _purchase(**changes))

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in [error["field"] for error in body["errors"]]
    assert _rows(acme, Purchase) == []


def test_malformed_json_is_a_400(acme):
    installation, key = api_install(acme)

    response = post_purchases(acme.client(), installation, key, b'{"event_id": ')

    assert response.status_code == 400
    assert response.json() == {"detail": "The body is not valid JSON.", "code": "malformed_json"}


def test_a_lone_surrogate_or_nan_in_json_is_a_4xx_not_a_500(acme):
    installation, key = api_install(acme)

    surrogate = post_purchases(acme.client(), installation, key, _purchase(event_id="\ud800"))
    nan = post_purchases(acme.client(), installation, key, b'{"event_id": "e", "amount": NaN}')

    assert (surrogate.status_code, nan.status_code) == (422, 400)


def test_a_form_body_is_a_415(acme):
    installation, key = api_install(acme)

    response = post_purchases(
        acme.client(),
        installation,
        key,
        b"event_id=1",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


@override_settings(MAX_INGEST_BODY_BYTES=1000, DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_over_the_limit_is_a_413(acme):
    installation, key = api_install(acme)
    batch = {"purchases": [_purchase(event_id=f"e{n}") for n in range(10)]}

    response = post_purchases(acme.client(), installation, key, batch)

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert _rows(acme, Purchase) == []


# Authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer wrong", "Basic abc"])
def test_without_the_installations_key_it_is_a_401(acme, authorization):
    installation, key = api_install(acme)
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    client = acme.client()
    if authorization is None:
        response = client.post(
            purchases_path(installation), data=b"{}", content_type="application/json"
        )
    else:
        response = post_purchases(client, installation, key, _purchase(), **extra)

    assert response.status_code == 401
    assert response.json() == {
        "detail": "A valid installation key is required.",
        "code": "invalid_key",
    }
    assert _rows(acme, Purchase) == []


def test_a_rotated_key_stops_working_at_once(acme):
    installation, old_key = api_install(acme)
    with tenant_context(acme.organisation):
        new_key = installation_rotate_secret(installation=installation, actor=ACTOR).one_time[
            "api_key"
        ]

    old = post_purchases(acme.client(), installation, old_key, _purchase())
    new = post_purchases(acme.client(), installation, new_key, _purchase())

    assert (old.status_code, new.status_code) == (401, 201)


def test_another_installations_key_is_refused(acme):
    installation, _ = api_install(acme)
    _, other_key = api_install(acme, name="Other")

    response = post_purchases(acme.client(), installation, other_key, _purchase())

    assert response.status_code == 401


def test_a_disabled_installation_is_not_found(acme):
    installation, key = api_install(acme)
    with tenant_context(acme.organisation):
        installation_set_active(installation=installation, is_active=False, actor=ACTOR)

    response = post_purchases(acme.client(), installation, key, _purchase())

    assert response.status_code == 404


# Cross-tenant -----------------------------------------------------------------------------


def test_acmes_installation_on_borealis_host_is_not_found(acme, borealis):
    installation, key = api_install(acme)

    response = post_purchases(borealis.client(), installation, key, _purchase())

    assert response.status_code == 404
    assert _rows(acme, Purchase) == []
    assert _rows(borealis, Purchase) == []


def test_acmes_key_on_a_borealis_installation_is_refused(acme, borealis):
    _, acme_key = api_install(acme)
    borealis_installation, _ = api_install(borealis)

    response = post_purchases(borealis.client(), borealis_installation, acme_key, _purchase())

    assert response.status_code == 401
    assert _rows(borealis, Purchase) == []


def test_an_integer_beyond_64_bits_in_properties_is_kept_exactly(acme):
    installation, key = api_install(acme)
    big = 2**64 + 1
    body = (
        b'{"event_id": "big", "amount": "1.00", "currency": "USD",'
        b' "occurred_at": "2025-01-01T00:00:00Z", "properties": {"visits": '
        + str(big).encode()
        + b', "ratio": 0.5}}'
    )

    response = post_purchases(acme.client(), installation, key, body)

    assert response.status_code == 201
    [purchase] = _rows(acme, Purchase)
    assert purchase.properties == {"visits": big, "ratio": 0.5}
