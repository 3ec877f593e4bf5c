"""The overview: charts for a period, what needs attention, and the live activity feed."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from events.models import DeliveryAttempt, DeliveryState
from events.selectors import overview
from events.selectors.overview import Period

from .portal_support import many_purchases, portal_rows


def _period(days=30):
    return Period.ending_today(days, today=timezone.now().date())


def test_sales_count_purchases_per_day_and_revenue_net_of_refunds(acme):
    rows = portal_rows(acme)
    today = timezone.now().date()

    with tenant_context(acme.organisation):
        sales = overview.sales_series(_period())

    assert len(sales.purchases_by_day) == 30
    assert sales.purchase_total == 3
    assert sales.purchases_by_day[rows.guest.occurred_at.date()] >= 1
    assert sum(sales.purchases_by_day[d] for d in (today, today - timedelta(days=1))) == 3
    revenue = {r.currency: (r.net, r.refunded) for r in sales.revenue}
    assert revenue == {
        "USD": (Decimal("27.50"), Decimal("5.00")),
        "EUR": (Decimal("10.00"), Decimal("0")),
    }


def test_the_period_bounds_what_is_counted(acme):
    rows = portal_rows(acme)
    many_purchases(acme, rows.shop, 3, start=timezone.now() - timedelta(days=20))

    with tenant_context(acme.organisation):
        week = overview.sales_series(_period(7))
        month = overview.sales_series(_period(30))

    assert week.purchase_total == 3
    assert month.purchase_total == 6


def test_delivery_health_per_destination(acme):
    portal_rows(acme)

    with tenant_context(acme.organisation):
        (health,) = overview.destination_health(_period())

    assert health.name == "acme Mixpanel"
    assert (health.delivered, health.waiting, health.failed) == (2, 1, 1)
    assert health.success_rate == pytest.approx(2 / 3)


def test_attention_counts_held_purchases_and_dead_deliveries(acme):
    portal_rows(acme)

    with tenant_context(acme.organisation):
        attention = overview.attention_counts()

    assert (attention.held_purchases, attention.dead_deliveries) == (1, 1)


def test_the_page_draws_the_charts_and_links_what_needs_attention(acme):
    portal_rows(acme)

    response = acme.signed_in().get("/")

    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('<svg class="chart"') == 3  # purchases, USD, EUR
    assert '<title id="purchases-chart-t">Purchases per day, last 30 days</title>' in page
    assert "27.50 USD net of 5.00 refunded" in page
    assert 'href="/held/"' in page
    assert 'href="/deliveries/?state=dead"' in page
    assert re.search(r'stat-value">1</span>\s*<span class="stat-label">held purchase ', page)
    assert "67% delivered" in page
    assert '<script src="http' not in page


def test_choosing_a_period(acme):
    portal_rows(acme)

    response = acme.signed_in().get("/?days=7")

    assert response.status_code == 200
    assert "Purchases per day, last 7 days" in response.content.decode()
    assert '<option value="7" selected>' in response.content.decode()


@pytest.mark.parametrize("days", ["3", "abc", "-30"])
def test_an_unknown_period_answers_400_and_shows_the_default(acme, days):
    response = acme.signed_in().get(f"/?days={days}")

    page = response.content.decode()
    assert response.status_code == 400
    assert "last 30 days" in page
    # The selector names the period shown, and the refusal is said.
    assert '<option value="30" selected>' in page
    assert 'role="alert">Select a valid choice.' in page


def test_a_query_without_a_period_shows_the_default_period_without_an_error(acme):
    response = acme.signed_in().get("/?utm_source=newsletter")

    assert response.status_code == 200
    assert '<option value="30" selected>' in response.content.decode()
    assert "This field is required." not in response.content.decode()


def test_an_empty_organisation_gets_an_overview_too(acme):
    response = acme.signed_in().get("/")

    assert response.status_code == 200
    assert "No purchases yet." in response.content.decode()


# Live activity ---------------------------------------------------------------------


def _fingerprint(page: str) -> str:
    return re.search(r'hx-get="/activity/\?since=([^"]+)"', page).group(1)


def test_the_feed_polls_every_5_seconds_only_while_the_tab_is_visible(acme):
    portal_rows(acme)

    page = acme.signed_in().get("/").content.decode()

    assert "hx-trigger=\"every 5s [document.visibilityState === 'visible']\"" in page
    assert 'hx-swap="outerHTML"' in page


def test_a_poll_with_nothing_new_answers_204_with_one_query_of_its_own(acme):
    portal_rows(acme)
    client = acme.signed_in()
    since = _fingerprint(client.get("/").content.decode())

    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/activity/?since={since}")

    assert response.status_code == 204
    ours = [q["sql"] for q in captured if "events_" in q["sql"]]
    assert len(ours) == 1
    assert ours[0].startswith("SELECT (SELECT max(received_at)")


def test_a_new_purchase_appears_at_the_next_poll(acme):
    rows = portal_rows(acme)
    client = acme.signed_in()
    since = _fingerprint(client.get("/").content.decode())
    (new,) = many_purchases(acme, rows.shop, 1)

    response = client.get(f"/activity/?since={since}")

    page = response.content.decode()
    assert response.status_code == 200
    assert f'href="/purchases/{new.pk}/"' in page
    assert _fingerprint(page) != since
    assert client.get(f"/activity/?since={_fingerprint(page)}").status_code == 204


def test_a_delivery_outcome_appears_at_the_next_poll(acme):
    rows = portal_rows(acme)
    client = acme.signed_in()
    since = _fingerprint(client.get("/").content.decode())
    with tenant_context(acme.organisation):
        rows.guest_delivery.state = DeliveryState.DELIVERED
        rows.guest_delivery.save(update_fields=["state"])
        DeliveryAttempt.objects.create(
            delivery=rows.guest_delivery, status_code=200, outcome=DeliveryState.DELIVERED
        )

    response = client.get(f"/activity/?since={since}")

    assert response.status_code == 200
    row = response.content.decode().split(f"/purchases/{rows.guest.pk}/", 1)[1].split("</tr>")[0]
    assert "Delivered" in row
    assert "Dead" not in row


def test_the_feed_shows_the_ten_newest_arrivals(acme):
    rows = portal_rows(acme)
    many_purchases(acme, rows.shop, 12)

    page = acme.signed_in().get("/activity/").content.decode()

    assert page.count('<a href="/purchases/') == 10


def test_a_poll_after_the_session_ended_sends_the_page_to_sign_in(acme):
    response = acme.client().get("/activity/?since=x", HTTP_HX_REQUEST="true")

    assert response.status_code == 204
    assert response["HX-Redirect"] == "/accounts/login/?next=/"
    assert response.content == b""
