"""Held purchases: the list, and linking one to a user, which releases it."""

from django.urls import reverse
from django_tenants.utils import tenant_context

from accounts.models import AuditEntry
from events.models import Customer, Delivery, DeliveryState, Identity

from .portal_support import portal_rows


def _link(org, rows, user: str):
    return org.signed_in().post(reverse("portal:held_link", args=[rows.held.pk]), {"user": user})


def test_the_list_shows_held_purchases_with_their_platform_shopper(acme):
    rows = portal_rows(acme)

    response = acme.signed_in().get("/held/")

    page = response.content.decode()
    assert response.status_code == 200
    assert f'href="/purchases/{rows.held.pk}/"' in page
    assert "<code>100099</code>" in page
    assert f'href="/held/{rows.held.pk}/link/"' in page
    assert str(rows.paid.pk) not in page


def test_linking_to_a_user_by_email_adds_the_identity_and_releases_the_purchase(acme):
    rows = portal_rows(acme)

    response = _link(acme, rows, "Shopper@Acme.example")

    assert response.status_code == 302
    assert response.url == f"/purchases/{rows.held.pk}/"
    with tenant_context(acme.organisation):
        identity = Identity.objects.get(installation=rows.shop, external_id="100099")
        delivery = Delivery.objects.get(pk=rows.held_delivery.pk)
        rows.held.refresh_from_db()
        assert identity.customer_id == rows.shopper.pk
        assert rows.held.customer_id == rows.shopper.pk
        assert delivery.state == DeliveryState.PENDING
        assert delivery.distinct_id == str(rows.shopper.pk)
        assert set(
            Identity.objects.filter(customer=rows.shopper).values_list("external_id", flat=True)
        ) == {"100077", "100099"}
        assert AuditEntry.objects.filter(
            action="user.updated", target_id=str(rows.shopper.pk), actor_label=acme.admin.email
        ).exists()
    assert acme.signed_in().get("/held/").content.decode().count("Link to a user") == 0


def test_linking_to_a_user_by_id(acme):
    rows = portal_rows(acme)

    response = _link(acme, rows, str(rows.shopper.pk))

    assert response.status_code == 302
    with tenant_context(acme.organisation):
        assert Delivery.objects.get(pk=rows.held_delivery.pk).state == DeliveryState.PENDING


def test_linking_to_a_new_email_creates_the_user(acme):
    rows = portal_rows(acme)

    response = _link(acme, rows, "newcomer@acme.example")

    assert response.status_code == 302
    with tenant_context(acme.organisation):
        newcomer = Customer.objects.get(email="newcomer@acme.example")
        assert list(newcomer.identities.values_list("external_id", flat=True)) == ["100099"]
        assert Delivery.objects.get(pk=rows.held_delivery.pk).distinct_id == str(newcomer.pk)


def test_an_unknown_user_id_is_a_form_error_and_changes_nothing(acme):
    rows = portal_rows(acme)

    response = _link(acme, rows, "00000000-0000-0000-0000-000000000000")

    assert response.status_code == 422
    assert b"No user has this id or email." in response.content
    with tenant_context(acme.organisation):
        assert Delivery.objects.get(pk=rows.held_delivery.pk).state == "awaiting_identity"
        assert not Identity.objects.filter(external_id="100099").exists()


def test_an_identity_another_user_has_is_refused(acme):
    rows = portal_rows(acme)
    with tenant_context(acme.organisation):
        owner = Customer.objects.create(email="owner@acme.example")
        Identity.objects.create(customer=owner, installation=rows.shop, external_id="100099")

    response = _link(acme, rows, "shopper@acme.example")

    assert response.status_code == 422
    with tenant_context(acme.organisation):
        assert Identity.objects.get(external_id="100099").customer_id == owner.pk


def test_an_empty_user_is_a_form_error(acme):
    rows = portal_rows(acme)

    response = _link(acme, rows, "")

    assert response.status_code == 422


def test_a_purchase_that_is_not_held_cannot_be_linked(acme):
    rows = portal_rows(acme)

    response = acme.signed_in().get(reverse("portal:held_link", args=[rows.paid.pk]))

    assert response.status_code == 404
