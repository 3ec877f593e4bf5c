"""The purchases list (filters, keyset pages, fixed queries) and a purchase's page."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import tenant_context

from events.models import Delivery, DeliveryState

from .portal_support import many_purchases, portal_rows, queries_for

LIST = "/purchases/"


def _orders(response) -> list[str]:
    """Order ids in the list's rows, in order."""
    body = response.content.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'/purchases/[0-9a-f-]{36}/">(?:Refund of )?(\w+)</a>', body)


def test_the_list_shows_purchases_and_refunds_newest_first(acme):
    portal_rows(acme)

    response = acme.signed_in().get(LIST)

    assert response.status_code == 200
    assert _orders(response) == ["10003", "10001", "10001", "10002"]
    assert "Refund of 10001" in response.content.decode()


@pytest.mark.parametrize(
    "query, orders",
    [
        ("state=dead", ["10002"]),
        ("state=awaiting_identity", ["10003"]),
        ("state=delivered", ["10001", "10001"]),
        ("kind=refund", ["10001"]),
        ("kind=purchase", ["10003", "10001", "10002"]),
        ("order_id=10002", ["10002"]),
        ("order_id=%2310002", ["10002"]),
        ("order_id=nope", []),
        ("shopper=shopper%40acme.example", ["10001", "10001"]),
        ("shopper=SHOPPER%40ACME.EXAMPLE", ["10001", "10001"]),
        ("shopper=nobody%40acme.example", []),
        ("shopper=100099", ["10003"]),
        ("state=dead&kind=refund", []),
    ],
)
def test_filters(acme, query, orders):
    portal_rows(acme)

    response = acme.signed_in().get(f"{LIST}?{query}")

    assert response.status_code == 200
    assert _orders(response) == orders


def test_filter_by_source_installation(acme):
    rows = portal_rows(acme)
    many_purchases(acme, rows.api, 2)

    by_api = acme.signed_in().get(f"{LIST}?installation={rows.api.pk}")
    by_shop = acme.signed_in().get(f"{LIST}?installation={rows.shop.pk}")

    assert _orders(by_api) == ["900000", "900001"]
    assert _orders(by_shop) == ["10003", "10001", "10001", "10002"]


def test_filter_by_shopper_user_id(acme):
    rows = portal_rows(acme)

    response = acme.signed_in().get(f"{LIST}?shopper={rows.shopper.pk}")

    assert _orders(response) == ["10001", "10001"]


def test_filter_by_dates_is_inclusive_of_whole_days(acme):
    rows = portal_rows(acme)
    today = timezone.now().date()
    yesterday = today - timedelta(days=1)

    only_yesterday = acme.signed_in().get(f"{LIST}?date_from={yesterday}&date_to={yesterday}")
    from_today = acme.signed_in().get(f"{LIST}?date_from={today}")

    assert str(rows.guest.pk) in only_yesterday.content.decode()
    assert _orders(only_yesterday) == ["10002"]
    assert "10002" not in _orders(from_today)


def test_the_state_filter_reads_common_states_from_the_purchases(acme, monkeypatch):
    from events.selectors import purchase_search

    rows = portal_rows(acme)
    monkeypatch.setattr(purchase_search, "STATE_DRIVEN_LIMIT", 1)

    delivered = acme.signed_in().get(f"{LIST}?state=delivered")
    dead = acme.signed_in().get(f"{LIST}?state=dead")

    assert _orders(delivered) == ["10001", "10001"]
    assert _orders(dead) == [rows.guest.order_id]


@pytest.mark.parametrize(
    "query",
    [
        "state=bogus",
        "kind=bogus",
        "installation=not-a-source",
        "date_from=yesterday",
        "date_from=2025-02-02&date_to=2025-02-01",
        "order_id=" + "9" * 300,
    ],
)
def test_bad_filters_answer_400_with_the_form(acme, query):
    portal_rows(acme)

    response = acme.signed_in().get(f"{LIST}?{query}")

    assert response.status_code == 400
    assert b'class="error"' in response.content


@pytest.mark.parametrize("cursor", ["garbage", "2025-01-01~not-a-uuid", "~", "a~b~c"])
def test_a_cursor_that_is_not_ours_gives_the_first_page(acme, cursor):
    portal_rows(acme)

    response = acme.signed_in().get(f"{LIST}?older={cursor}")

    assert response.status_code == 200
    assert _orders(response) == ["10003", "10001", "10001", "10002"]


def test_pages_walk_the_whole_list_once_each_way(acme):
    rows = portal_rows(acme)
    many_purchases(acme, rows.api, 25, start=timezone.now() - timedelta(days=3))
    client = acme.signed_in()
    expected = ["10003", "10001", "10001", "10002"] + [f"9{n:05d}" for n in range(25)]

    seen, url, pages = [], f"{LIST}?size=10", []
    while url:
        response = client.get(url)
        pages.append(response)
        seen += _orders(response)
        older = re.search(r'href="\?([^"]*older=[^"]+)" rel="next"', response.content.decode())
        url = f"{LIST}?{older.group(1).replace('&amp;', '&')}" if older else None

    assert seen == expected
    assert [len(_orders(p)) for p in pages] == [10, 10, 9]
    newer = re.search(r'href="\?([^"]*newer=[^"]+)" rel="prev"', pages[-1].content.decode())
    back = client.get(f"{LIST}?{newer.group(1).replace('&amp;', '&')}")
    assert _orders(back) == expected[10:20]


def test_a_page_costs_the_same_queries_for_10_or_100_rows(acme):
    rows = portal_rows(acme)
    many_purchases(acme, rows.api, 120, destination=rows.mixpanel)
    client = acme.signed_in()
    client.get(LIST)  # the host lookup and session are cached from here on

    for filters in ("", "&state=delivered", "&installation=" + str(rows.api.pk)):
        small = queries_for(client, f"{LIST}?size=10{filters}")
        large = queries_for(client, f"{LIST}?size=100{filters}")
        assert small == large, filters


def test_the_purchase_page_shows_fields_adjustments_deliveries_and_raw_payload(acme):
    rows = portal_rows(acme)

    response = acme.signed_in().get(reverse("portal:purchase", args=[rows.paid.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Purchase 10001</h1>" in page
    assert "25 USD" in page
    assert "acme shop" in page
    assert f'href="/purchases/{rows.refund.pk}/">Refund</a>' in page
    assert "-5 USD" in page
    assert "acme Mixpanel" in page
    assert f'href="/deliveries/purchases/{rows.paid.pk}/"' in page
    assert "orders/paid received" in page
    assert "&quot;total_price&quot;: &quot;25.00&quot;" in page
    assert "IPod Nano - 8GB" in page


def test_a_refund_links_back_to_its_purchase(acme):
    rows = portal_rows(acme)

    page = acme.signed_in().get(reverse("portal:purchase", args=[rows.refund.pk])).content

    assert f'href="/purchases/{rows.paid.pk}/"'.encode() in page


def test_the_purchase_page_costs_the_same_queries_with_more_deliveries(acme):
    rows = portal_rows(acme)
    client = acme.signed_in()
    url = reverse("portal:purchase", args=[rows.paid.pk])
    client.get(url)
    before = queries_for(client, url)
    with tenant_context(acme.organisation):
        from catalog_integrations.models import Installation

        other = Installation.objects.create(integration="mixpanel", name="Second project")
        Delivery.objects.create(
            purchase=rows.paid, destination=other, state=DeliveryState.FAILED, insert_id="x"
        )

    assert queries_for(client, url) == before


def test_an_unknown_purchase_is_404(acme):
    response = acme.signed_in().get("/purchases/00000000-0000-0000-0000-000000000000/")

    assert response.status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(acme):
    response = acme.client().get(LIST)

    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/purchases/"
