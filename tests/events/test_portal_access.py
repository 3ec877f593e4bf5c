"""Who may see and change what on the portal's pages (events pages, team, audit log).

Every route is walked: a viewer reads every read-only page (with personal data masked)
and gets 403 from every other one, whatever the method; another organisation's session
or ids reach none of this organisation's rows.
"""

import pytest
from django.urls import URLPattern, reverse
from django_tenants.utils import tenant_context

from accounts import urls as account_urls
from accounts.models import Member
from events.pages import urls as portal_urls

from .portal_support import add_viewer, portal_rows

READ_ONLY = {
    "portal:overview",
    "portal:activity",
    "portal:purchases",
    "portal:purchase",
    "portal:held",
    "portal:users",
    "portal:user",
    "accounts:team",
    "accounts:audit_log",
}


def _routes() -> list[tuple[str, URLPattern]]:
    """The portal's pages and the team and audit log pages: every route this covers."""
    routes = [(f"portal:{p.name}", p) for p in portal_urls.urlpatterns]
    routes += [
        (f"accounts:{p.name}", p)
        for p in account_urls.urlpatterns
        if p.callback.__module__ == "accounts.views"
    ]
    return routes


def _url(name: str, pattern: URLPattern, rows, member: Member) -> str:
    values = {
        "purchase_id": rows.held.pk if "held" in name else rows.paid.pk,
        "user_id": rows.shopper.pk,
        "pk": member.pk,
    }
    return reverse(name, kwargs={key: values[key] for key in pattern.pattern.converters})


def test_every_route_is_either_read_only_or_refused_to_viewers():
    names = {name for name, _ in _routes()}

    assert READ_ONLY <= names
    assert {
        "portal:held_link",
        "accounts:member_invite",
        "accounts:member_role",
        "accounts:member_remove",
    } == names - READ_ONLY


@pytest.mark.parametrize("name", sorted({n for n, _ in _routes()} - READ_ONLY))
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_viewer_gets_403_from_every_form_and_action(acme, name, method):
    rows = portal_rows(acme)
    viewer = add_viewer(acme)
    pattern = dict(_routes())[name]
    client = acme.signed_in(viewer)

    response = getattr(client, method)(
        _url(name, pattern, rows, viewer), {"email": "x@y.test", "role": "admin", "user": "z"}
    )

    assert response.status_code == 403
    with tenant_context(acme.organisation):
        assert Member.objects.get(pk=viewer.pk).role == "viewer"
        assert Member.objects.count() == 2
        assert rows.held.deliveries.get().state == "awaiting_identity"


@pytest.mark.parametrize("name", sorted(READ_ONLY))
def test_a_viewer_reads_every_page_with_personal_data_masked(acme, name):
    rows = portal_rows(acme)
    viewer = add_viewer(acme)
    pattern = dict(_routes())[name]
    url = _url(name, pattern, rows, viewer)

    as_viewer = acme.signed_in(viewer).get(url)
    as_admin = acme.signed_in().get(url)

    assert as_viewer.status_code == 200
    page = as_viewer.content.decode()
    for value in rows.personal_values():
        assert value not in page, f"{value} shown to a viewer on {url}"
    assert acme.admin.email not in page
    assert as_admin.status_code == 200


def test_admins_see_the_personal_data_viewers_do_not(acme):
    rows = portal_rows(acme)
    client = acme.signed_in()

    detail = client.get(reverse("portal:purchase", args=[rows.paid.pk])).content.decode()
    user = client.get(reverse("portal:user", args=[rows.shopper.pk])).content.decode()

    assert "shopper@acme.example" in detail
    assert "1 Example Billing Street" in detail
    assert "+1-555-0100" in detail
    assert "Alice Acmeson" in user


def test_viewers_see_masked_values_in_their_place(acme):
    rows = portal_rows(acme)
    client = acme.signed_in(add_viewer(acme))

    detail = client.get(reverse("portal:purchase", args=[rows.paid.pk])).content.decode()
    user = client.get(reverse("portal:user", args=[rows.shopper.pk])).content.decode()

    assert "s***@acme.example" in detail
    assert "&quot;address1&quot;: &quot;1*** E*** B*** S***&quot;" in detail
    assert "&quot;phone&quot;: &quot;+***&quot;" in detail
    assert "A*** A***" in user


# Cross-tenant ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(n for n, _ in _routes()))
def test_borealis_session_on_acme_host_sees_nothing_of_acme(acme, borealis, name):
    rows = portal_rows(acme)
    pattern = dict(_routes())[name]
    url = _url(name, pattern, rows, acme.admin)
    client = borealis.signed_in()

    response = client.get(url, HTTP_HOST=acme.host)

    if name == "portal:activity":  # an htmx poll: sent to sign-in, nothing swapped in
        assert (response.status_code, response.content) == (204, b"")
        assert response["HX-Redirect"].startswith("/accounts/login/")
    else:
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")


@pytest.mark.parametrize(
    "name", sorted(n for n, p in _routes() if p.pattern.converters and n != "accounts:member_role")
)
def test_acme_ids_on_borealis_host_are_not_found(acme, borealis, name):
    acme_rows = portal_rows(acme)
    portal_rows(borealis)
    acme_viewer = add_viewer(acme, "only-in-acme@members.test")
    pattern = dict(_routes())[name]

    response = borealis.signed_in().get(_url(name, pattern, acme_rows, acme_viewer))

    assert response.status_code == 404


def test_acme_member_ids_on_borealis_host_are_not_found(acme, borealis):
    acme_viewer = add_viewer(acme, "only-in-acme@members.test")
    client = borealis.signed_in()

    for name in ("accounts:member_role", "accounts:member_remove"):
        url = reverse(name, args=[acme_viewer.pk])
        assert client.get(url).status_code == 404
        assert client.post(url, {"role": "admin"}).status_code == 404
    with tenant_context(acme.organisation):
        assert Member.objects.filter(pk=acme_viewer.pk, role="viewer").exists()


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/activity/",
        "/purchases/",
        "/purchases/?state=dead",
        "/purchases/?order_id=10001",
        "/held/",
        "/users/",
        "/users/?q=shopper",
        "/team/",
        "/audit/",
    ],
)
def test_borealis_lists_hold_none_of_acme_rows(acme, borealis, url):
    acme_rows = portal_rows(acme)
    portal_rows(borealis)

    page = borealis.signed_in().get(url).content.decode()

    assert "acme" not in page.lower()
    for row in (acme_rows.paid, acme_rows.refund, acme_rows.guest, acme_rows.held):
        assert str(row.pk) not in page
    assert str(acme_rows.shopper.pk) not in page
