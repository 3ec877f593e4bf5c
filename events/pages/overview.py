"""The portal's home: charts for a period, what needs attention, and live activity."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import render, resolve_url
from django.utils import timezone
from django.views.decorators.http import require_GET

from ..selectors import overview as selectors
from . import charts
from .forms import PeriodForm

# Pollers ask this often, and only while the tab is visible (see _activity.html).
ACTIVITY_POLL_SECONDS = 5
# The charts aggregate a whole period: kept this long (per organisation, the cache's
# keys carry the schema), so reloads and several admins cost one aggregation at most
# every half minute.
# Live activity is never cached.
CHARTS_CACHE_SECONDS = 30


def _purchase_chart(period, sales):
    bars = [
        charts.Bar(
            label=day.strftime("%d %b"),
            value=count,
            title=f"{day:%a %d %b}: {count} purchase{'s' if count != 1 else ''}",
        )
        for day, count in sales.purchases_by_day.items()
    ]
    return charts.bar_chart(
        bars,
        chart_id="purchases-chart",
        title=f"Purchases per day, last {period.days} days",
        description=f"{sales.purchase_total} purchases from {period.first_day} to "
        f"{period.last_day}; the busiest day had {max((b.value for b in bars), default=0)}.",
    )


def _revenue_charts(period, sales):
    drawn = []
    for revenue in sales.revenue:
        bars = [
            charts.Bar(
                label=day.strftime("%d %b"),
                value=charts.decimal_value(revenue.by_day.get(day, 0)),
                title=f"{day:%a %d %b}: {revenue.by_day.get(day, 0):.2f} {revenue.currency}",
            )
            for day in period.day_list()
        ]
        chart = charts.bar_chart(
            bars,
            chart_id=f"revenue-{revenue.currency}",
            title=f"Net revenue in {revenue.currency} per day",
            description=f"{revenue.net:.2f} {revenue.currency} net of "
            f"{revenue.refunded:.2f} refunded, {period.first_day} to {period.last_day}.",
        )
        drawn.append((revenue, chart))
    return drawn


def _health_charts(health):
    drawn = []
    for destination in health:
        segments = [
            charts.Segment("ok", destination.delivered, "Delivered"),
            charts.Segment("wait", destination.waiting, "Waiting"),
            charts.Segment("bad", destination.failed, "Failed"),
        ]
        chart = charts.stacked_bar(
            segments,
            chart_id=f"health-{destination.destination_id}",
            title=f"Deliveries to {destination.name}",
        )
        drawn.append((destination, chart))
    return drawn


def _activity_context(fingerprint: str | None = None) -> dict:
    return {
        "feed": selectors.activity_feed(),
        "fingerprint": fingerprint or selectors.activity_fingerprint(),
        "poll_seconds": ACTIVITY_POLL_SECONDS,
    }


@login_required
@require_GET
def overview(request):
    # Only a chosen period is checked: other parameters (a campaign tag, say) are not errors.
    form = PeriodForm(request.GET if "days" in request.GET else None)
    period = selectors.Period.ending_today(form.period_days(), today=timezone.now().date())
    sales, health, drawn_at = cache.get_or_set(
        # The organisation's id as well as the schema (in every key): a slug, and so a
        # schema name, is free again once its organisation is deleted; an id never is.
        f"portal-overview-charts:{request.tenant.pk}:{period.days}:{period.last_day}",
        lambda: (
            selectors.sales_series(period),
            selectors.destination_health(period),
            timezone.now(),
        ),
        CHARTS_CACHE_SECONDS,
    )
    context = {
        # A refused period is shown as the one the page does show: the default.
        "form": PeriodForm() if form.errors else form,
        "period_errors": form.errors.get("days", []),
        "period": period,
        "charts_drawn_at": drawn_at,
        "charts_cache_seconds": CHARTS_CACHE_SECONDS,
        "sales": sales,
        "purchase_chart": _purchase_chart(period, sales),
        "revenue_charts": _revenue_charts(period, sales),
        "health_charts": _health_charts(health),
        "attention": selectors.attention_counts(),
        **_activity_context(),
    }
    status = 400 if form.errors else 200
    return render(request, "events/pages/overview.html", context, status=status)


@require_GET
def activity(request):
    """htmx partial: the live feed, or 204 (nothing to swap) while nothing changed.

    A poll that finds nothing new costs one query on top of the session's. A poll whose
    session ended sends the whole page to sign-in, rather than a sign-in form into the feed.
    """
    if not request.user.is_authenticated:
        login = f"{resolve_url(settings.LOGIN_URL)}?next=/"
        return HttpResponse(status=204, headers={"HX-Redirect": login})
    fingerprint = selectors.activity_fingerprint()
    if request.GET.get("since") == fingerprint:
        return HttpResponse(status=204)
    return render(request, "events/pages/_activity.html", _activity_context(fingerprint))
