"""The users pages: search by email or identity, and one user's page."""

import re

import pytest
from django.urls import reverse
from django_tenants.utils import tenant_context

from events.models import Customer, Identity

from .portal_support import portal_rows, queries_for


def _users(response) -> list[str]:
    body = response.content.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<a href="/users/[0-9a-f-]{36}/">([^<]+)</a>', body)


def _more_users(org, count: int, installation=None):
    with tenant_context(org.organisation):
        customers = Customer.objects.bulk_create(
            [Customer(email=f"person{n:03d}@many.example") for n in range(count)]
        )
        if installation is not None:
            Identity.objects.bulk_create(
                [
                    Identity(customer=c, installation=installation, external_id=f"ext-{n}")
                    for n, c in enumerate(customers)
                ]
            )
    return customers


@pytest.mark.parametrize(
    "query, found",
    [
        ("shopper@acme.example", ["shopper@acme.example"]),
        ("SHOPPER@", ["shopper@acme.example"]),
        ("shop", ["shopper@acme.example"]),
        ("100077", ["shopper@acme.example"]),
        ("nobody@acme.example", []),
        ("1000", []),
        ("100%", []),
        ("sho_per", []),
    ],
)
def test_search_by_email_prefix_or_platform_id(acme, query, found):
    portal_rows(acme)
    _more_users(acme, 3)

    response = acme.signed_in().get("/users/", {"q": query})

    assert response.status_code == 200
    assert _users(response) == found


def test_search_by_user_id(acme):
    rows = portal_rows(acme)

    response = acme.signed_in().get("/users/", {"q": str(rows.shopper.pk)})

    assert _users(response) == ["shopper@acme.example"]


def test_the_list_pages_newest_first_with_fixed_queries(acme):
    rows = portal_rows(acme)
    _more_users(acme, 120, installation=rows.shop)
    client = acme.signed_in()
    client.get("/users/")

    first = client.get("/users/?size=10")

    assert _users(first)[0] == "person119@many.example"
    assert len(_users(first)) == 10
    assert queries_for(client, "/users/?size=10") == queries_for(client, "/users/?size=100")


def test_a_query_that_is_too_long_answers_400(acme):
    response = acme.signed_in().get("/users/", {"q": "x" * 300})

    assert response.status_code == 400


def test_the_user_page_shows_identities_and_purchases(acme):
    rows = portal_rows(acme)

    response = acme.signed_in().get(reverse("portal:user", args=[rows.shopper.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "<h1>shopper@acme.example</h1>" in page
    assert "Alice Acmeson" in page
    assert "<td>acme shop</td><td><code>100077</code></td>" in page
    assert f'href="/purchases/{rows.paid.pk}/"' in page
    assert f'href="/purchases/{rows.refund.pk}/">Refund of 10001' in page
    assert str(rows.guest.pk) not in page


def test_the_user_page_costs_the_same_queries_with_more_identities(acme):
    rows = portal_rows(acme)
    client = acme.signed_in()
    url = reverse("portal:user", args=[rows.shopper.pk])
    client.get(url)
    before = queries_for(client, url)
    with tenant_context(acme.organisation):
        Identity.objects.create(customer=rows.shopper, installation=rows.api, external_id="b-1")

    assert queries_for(client, url) == before


def test_an_unknown_user_is_404(acme):
    response = acme.signed_in().get("/users/00000000-0000-0000-0000-000000000000/")

    assert response.status_code == 404
