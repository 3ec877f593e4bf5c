"""Shoppers matched through this installation's identities by the write itself."""

from datetime import UTC, datetime

from django.test.utils import override_settings
from django_tenants.utils import tenant_context

from events.models import Customer, Delivery, DeliveryState, Identity, Purchase

from .ingest_support import (
    api_install,
    mixpanel_install,
    post_purchases,
    post_sample,
    post_webhook,
    shopify_install,
    signed_copy,
)

SHOPPER = "7301550110001"
PAID_AT = datetime(2025, 3, 18, 18, 2, 35, tzinfo=UTC)


def _user_with_identity(org, installation, external_id: str = SHOPPER) -> Customer:
    with tenant_context(org.organisation):
        user = Customer.objects.create(email=f"{external_id}@example.com")
        Identity.objects.create(customer=user, installation=installation, external_id=external_id)
    return user


def _pk(installation):
    return installation.pk


def _purchase_and_deliveries(org, **filters) -> tuple[Purchase, list[Delivery]]:
    with tenant_context(org.organisation):
        purchase = Purchase.objects.get(**filters)
        return purchase, list(purchase.deliveries.order_by("destination_id"))


@override_settings(IDENTITY_HOLD_SECONDS=900)
def test_a_matched_shoppers_deliveries_are_due_at_once_as_their_user(
    acme, monkeypatch, django_capture_on_commit_callbacks
):
    shop = shopify_install(acme)
    first = mixpanel_install(acme, name="Project one")
    second = mixpanel_install(acme, name="Project two", token="token-2")
    user = _user_with_identity(acme, shop)
    queued = []
    monkeypatch.setattr("events.tasks.dispatch_enqueue", lambda **kwargs: queued.append(kwargs))

    with django_capture_on_commit_callbacks(execute=True):
        post_sample(acme.client(), shop, "orders-paid")

    purchase, deliveries = _purchase_and_deliveries(acme)
    assert purchase.customer_id == user.pk
    assert purchase.external_customer_id == SHOPPER
    released = (DeliveryState.PENDING, str(user.pk), PAID_AT)
    assert [(d.destination_id, d.state, d.distinct_id, d.event_time) for d in deliveries] == [
        (destination.pk, *released) for destination in sorted([first, second], key=_pk)
    ]
    assert [d.created_at for d in deliveries] == [purchase.received_at] * 2
    assert [d.next_attempt_at for d in deliveries] == [purchase.received_at] * 2
    assert sorted(q["destination_id"] for q in queued) == sorted([str(first.pk), str(second.pk)])


def test_an_identity_linked_after_an_earlier_order_matches_the_next_one(acme):
    shop = shopify_install(acme)
    mixpanel_install(acme)
    post_sample(acme.client(), shop, "orders-paid")
    user = _user_with_identity(acme, shop)
    body, headers = signed_copy("orders-paid", id=2)

    post_webhook(acme.client(), shop, body, headers)

    purchase, [delivery] = _purchase_and_deliveries(acme, order_id="2")
    assert purchase.customer_id == user.pk
    assert (delivery.state, delivery.distinct_id) == (DeliveryState.PENDING, str(user.pk))


def test_an_identity_on_another_installation_does_not_match(acme):
    shop = shopify_install(acme)
    other_shop = shopify_install(acme, shop_domain="other-shop.myshopify.com", name="Other")
    mixpanel_install(acme)
    _user_with_identity(acme, other_shop)

    post_sample(acme.client(), shop, "orders-paid")

    purchase, [delivery] = _purchase_and_deliveries(acme)
    assert (purchase.customer_id, purchase.external_customer_id) == (None, SHOPPER)
    assert delivery.state == DeliveryState.AWAITING_IDENTITY
    assert (delivery.distinct_id, delivery.event_time) == (None, None)


def test_one_batch_matches_each_shopper_on_its_own(acme):
    installation, key = api_install(acme)
    mixpanel_install(acme)
    user = _user_with_identity(acme, installation, "crm-7")
    purchase = {"amount": "10.00", "currency": "EUR", "occurred_at": "2025-03-18T14:02:35Z"}
    batch = {
        "purchases": [
            {**purchase, "event_id": "known", "external_user_id": "crm-7"},
            {**purchase, "event_id": "unknown", "external_user_id": "crm-9"},
            {**purchase, "event_id": "guest"},
        ]
    }

    response = post_purchases(acme.client(), installation, key, batch)

    assert response.status_code == 200
    known, [known_delivery] = _purchase_and_deliveries(acme, event_id="known")
    unknown, [unknown_delivery] = _purchase_and_deliveries(acme, event_id="unknown")
    guest, [guest_delivery] = _purchase_and_deliveries(acme, event_id="guest")
    assert (known.customer_id, unknown.customer_id, guest.customer_id) == (user.pk, None, None)
    assert [
        (d.state, d.distinct_id) for d in (known_delivery, unknown_delivery, guest_delivery)
    ] == [
        (DeliveryState.PENDING, str(user.pk)),
        (DeliveryState.AWAITING_IDENTITY, None),
        (DeliveryState.PENDING, ""),
    ]


# Cross-tenant -----------------------------------------------------------------------------


def test_an_identity_in_another_organisation_does_not_match(acme, borealis):
    acme_shop = shopify_install(acme)
    mixpanel_install(acme)
    borealis_shop = shopify_install(borealis)
    _user_with_identity(borealis, borealis_shop)

    post_sample(acme.client(), acme_shop, "orders-paid")

    purchase, [delivery] = _purchase_and_deliveries(acme)
    assert purchase.customer_id is None
    assert delivery.state == DeliveryState.AWAITING_IDENTITY
