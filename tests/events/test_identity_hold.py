"""Purchases of shoppers no identity names wait; linking an identity releases them."""

import uuid

from django_tenants.utils import tenant_context

from events.models import Delivery, DeliveryState, Purchase
from events.services.deliveries import PSEUDONYM_NAMESPACE, pseudonymous_distinct_id
from events.services.users import IdentityRef, UserInput, customer_create, customer_update
from tenants.models import WorkDue

from .ingest_support import (
    ACTOR,
    mixpanel_install,
    post_sample,
    post_webhook,
    shopify_install,
    signed_copy,
)

CUSTOMER = "7301550110001"


def _held_purchase_and_refund(org):
    shop = shopify_install(org)
    mixpanel = mixpanel_install(org)
    post_sample(org.client(), shop, "orders-paid")
    post_sample(org.client(), shop, "refunds-create")
    return shop, mixpanel


def test_linking_an_identity_releases_held_deliveries_with_the_users_id(
    acme, monkeypatch, django_capture_on_commit_callbacks
):
    shop, mixpanel = _held_purchase_and_refund(acme)
    queued = []
    monkeypatch.setattr("events.tasks.dispatch_enqueue", lambda **kwargs: queued.append(kwargs))

    with tenant_context(acme.organisation), django_capture_on_commit_callbacks(execute=True):
        user = customer_create(
            data=UserInput(email="casey@example.com", identities=(IdentityRef(shop.pk, CUSTOMER),)),
            actor=ACTOR,
        )

    with tenant_context(acme.organisation):
        purchases = list(Purchase.objects.order_by("kind"))
        deliveries = list(Delivery.objects.select_related("purchase").order_by("purchase__kind"))
    assert [(p.kind, p.customer_id) for p in purchases] == [
        ("purchase", user.pk),
        ("refund", user.pk),
    ]
    assert [(d.state, d.distinct_id) for d in deliveries] == [
        (DeliveryState.PENDING, str(user.pk)),
        (DeliveryState.PENDING, str(user.pk)),
    ]
    assert [d.event_time for d in deliveries] == [d.purchase.occurred_at for d in deliveries]
    assert queued == [{"schema_name": "acme", "destination_id": str(mixpanel.pk)}]
    assert (
        WorkDue.objects.get(organisation=acme.organisation).due_at == deliveries[0].next_attempt_at
    )


def test_identities_added_later_by_an_update_release_too(acme):
    shop, _ = _held_purchase_and_refund(acme)
    with tenant_context(acme.organisation):
        user = customer_create(data=UserInput(email="casey@example.com"), actor=ACTOR)

        customer_update(
            customer=user,
            data=UserInput(
                identities=(IdentityRef(shop.pk, CUSTOMER),), given=frozenset({"identities"})
            ),
            actor=ACTOR,
        )

        assert set(Delivery.objects.values_list("state", "distinct_id")) == {
            (DeliveryState.PENDING, str(user.pk))
        }


def test_linking_another_shoppers_identity_releases_nothing(acme):
    shop, _ = _held_purchase_and_refund(acme)

    with tenant_context(acme.organisation):
        customer_create(
            data=UserInput(email="other@example.com", identities=(IdentityRef(shop.pk, "999"),)),
            actor=ACTOR,
        )

        assert set(Delivery.objects.values_list("state", flat=True)) == {
            DeliveryState.AWAITING_IDENTITY
        }
        assert set(Purchase.objects.values_list("customer_id", flat=True)) == {None}


def test_a_delivery_already_released_keeps_its_distinct_id_when_an_identity_comes(acme):
    shop, _ = _held_purchase_and_refund(acme)
    pseudonym = pseudonymous_distinct_id(shop.pk, CUSTOMER)
    with tenant_context(acme.organisation):
        Delivery.objects.update(state=DeliveryState.DELIVERED, distinct_id=pseudonym)

        user = customer_create(
            data=UserInput(email="casey@example.com", identities=(IdentityRef(shop.pk, CUSTOMER),)),
            actor=ACTOR,
        )

        assert set(Delivery.objects.values_list("distinct_id", flat=True)) == {pseudonym}
        assert set(Purchase.objects.values_list("customer_id", flat=True)) == {user.pk}


def test_a_refund_of_a_released_purchase_reaches_the_same_distinct_id(acme):
    shop = shopify_install(acme)
    mixpanel_install(acme)
    post_sample(acme.client(), shop, "orders-paid")
    pseudonym = pseudonymous_distinct_id(shop.pk, CUSTOMER)
    with tenant_context(acme.organisation):
        Delivery.objects.update(state=DeliveryState.DELIVERED, distinct_id=pseudonym)

    post_sample(acme.client(), shop, "refunds-create")

    with tenant_context(acme.organisation):
        refund_delivery = Delivery.objects.get(purchase__kind="refund")
    assert (refund_delivery.state, refund_delivery.distinct_id) == (
        DeliveryState.PENDING,
        pseudonym,
    )


def test_the_pseudonymous_distinct_id_is_stable_per_installation_and_shopper():
    installation = uuid.UUID("00000000-0000-0000-0000-000000000001")
    other = uuid.UUID("00000000-0000-0000-0000-000000000002")

    first = pseudonymous_distinct_id(installation, "42")

    assert first == pseudonymous_distinct_id(str(installation), "42")
    assert first == str(uuid.uuid5(PSEUDONYM_NAMESPACE, f"{installation}:42"))
    assert first != pseudonymous_distinct_id(other, "42")
    assert first != pseudonymous_distinct_id(installation, "43")
    assert "42" not in first


def test_holds_and_releases_stay_inside_their_organisation(acme, borealis):
    acme_shop, _ = _held_purchase_and_refund(acme)
    borealis_shop = shopify_install(borealis)
    mixpanel_install(borealis)
    body, headers = signed_copy("orders-paid")
    post_webhook(borealis.client(), borealis_shop, body, headers)

    with tenant_context(acme.organisation):
        customer_create(
            data=UserInput(
                email="casey@example.com", identities=(IdentityRef(acme_shop.pk, CUSTOMER),)
            ),
            actor=ACTOR,
        )

    with tenant_context(borealis.organisation):
        assert list(Delivery.objects.values_list("state", "distinct_id")) == [
            (DeliveryState.AWAITING_IDENTITY, None)
        ]
