"""Reads for the portal's overview: charts for a period, what needs attention, live activity.

Every function here is one query (the feed two) however many purchases there are: the
charts aggregate inside PostgreSQL over an index on the period's column.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Prefetch, Q, Sum
from django.db.models.functions import TruncDate

from catalog_integrations.models import Installation

from ..models import Delivery, DeliveryAttempt, DeliveryState, Purchase, PurchaseKind

# The periods the overview offers, in days; the default is the first month.
PERIOD_CHOICES = (7, 30, 90, 365)
DEFAULT_PERIOD_DAYS = 30
# The live feed shows this many of the newest purchases.
FEED_SIZE = 10

SUCCESS_STATES = (DeliveryState.DELIVERED,)
FAILURE_STATES = (DeliveryState.DEAD, DeliveryState.REJECTED, DeliveryState.FAILED)


@dataclass(frozen=True)
class Period:
    """Whole UTC days, the last one being today."""

    days: int
    first_day: date
    last_day: date

    @classmethod
    def ending_today(cls, days: int, *, today: date) -> "Period":
        return cls(days=days, first_day=today - timedelta(days=days - 1), last_day=today)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time.min, tzinfo=UTC)

    def day_list(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range(self.days)]


@dataclass
class CurrencyRevenue:
    currency: str
    net: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    by_day: dict[date, Decimal] = field(default_factory=dict)


@dataclass
class SalesSeries:
    """Purchases per day and net revenue per currency over a period."""

    purchases_by_day: dict[date, int]
    revenue: list[CurrencyRevenue]

    @property
    def purchase_total(self) -> int:
        return sum(self.purchases_by_day.values())


@dataclass
class DestinationHealth:
    destination_id: object
    name: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def delivered(self) -> int:
        return sum(self.counts.get(state, 0) for state in SUCCESS_STATES)

    @property
    def failed(self) -> int:
        return sum(self.counts.get(state, 0) for state in FAILURE_STATES)

    @property
    def waiting(self) -> int:
        return self.total - self.delivered - self.failed

    @property
    def success_rate(self) -> float | None:
        finished = self.delivered + self.failed
        return self.delivered / finished if finished else None


@dataclass(frozen=True)
class Attention:
    held_purchases: int
    dead_deliveries: int


def sales_series(period: Period) -> SalesSeries:
    """One grouped query: per day, currency and kind, the count and the sum of amounts.

    Refunds are stored with negative amounts, so the sum over both kinds is the revenue
    net of refunds.
    """
    rows = (
        Purchase.objects.filter(occurred_at__gte=period.start, occurred_at__lt=period.end)
        .annotate(day=TruncDate("occurred_at", tzinfo=UTC))
        .values("day", "currency", "kind")
        .annotate(n=Count("*"), total=Sum("amount"))
        .order_by()
    )
    purchases_by_day = dict.fromkeys(period.day_list(), 0)
    revenue: dict[str, CurrencyRevenue] = {}
    for row in rows:
        day, currency, total = row["day"], row["currency"], row["total"] or Decimal(0)
        if row["kind"] == PurchaseKind.PURCHASE:
            purchases_by_day[day] = purchases_by_day.get(day, 0) + row["n"]
        else:
            revenue.setdefault(currency, CurrencyRevenue(currency)).refunded -= total
        entry = revenue.setdefault(currency, CurrencyRevenue(currency))
        entry.net += total
        entry.by_day[day] = entry.by_day.get(day, Decimal(0)) + total
    ordered = sorted(revenue.values(), key=lambda r: (-abs(r.net), r.currency))
    return SalesSeries(purchases_by_day=purchases_by_day, revenue=ordered)


def destination_health(period: Period) -> list[DestinationHealth]:
    """Deliveries created in the period per destination and state (two small queries)."""
    rows = (
        Delivery.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
        .values("destination_id", "state")
        .annotate(n=Count("*"))
        .order_by()
    )
    counts: dict[object, dict[str, int]] = defaultdict(dict)
    for row in rows:
        counts[row["destination_id"]][row["state"]] = row["n"]
    if not counts:
        return []
    names = dict(Installation.objects.filter(pk__in=counts).values_list("pk", "name"))
    health = [
        DestinationHealth(pk, names.get(pk, "(removed)"), by_state)
        for pk, by_state in counts.items()
    ]
    return sorted(health, key=lambda h: h.name.lower())


def attention_counts() -> Attention:
    """Held purchases and dead deliveries right now: one query on the state index."""
    held, dead = DeliveryState.AWAITING_IDENTITY, DeliveryState.DEAD
    counts = Delivery.objects.filter(state__in=[held, dead]).aggregate(
        held=Count("purchase_id", distinct=True, filter=Q(state=held)),
        dead=Count("pk", filter=Q(state=dead)),
    )
    return Attention(held_purchases=counts["held"], dead_deliveries=counts["dead"])


# Live activity -------------------------------------------------------------------------


def activity_fingerprint() -> str:
    """What the live feed would show has changed when this changes: one cheap query.

    The newest purchase's arrival and the newest delivery attempt, each read from the
    end of an index. The pollers send it back and get nothing while it is the same.
    """
    purchases = connection.ops.quote_name(Purchase._meta.db_table)
    attempts = connection.ops.quote_name(DeliveryAttempt._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT max(received_at) FROM {purchases}),"  # noqa: S608 - table names
            f" (SELECT max(id) FROM {attempts})"
        )
        latest_purchase, latest_attempt = cursor.fetchone()
    stamp = latest_purchase.timestamp() if latest_purchase else 0
    return f"{stamp:.6f}-{latest_attempt or 0}"


def activity_feed(*, size: int = FEED_SIZE) -> list[Purchase]:
    """The newest purchases with their deliveries: two queries."""
    deliveries = Delivery.objects.select_related("destination").order_by("destination__name")
    return list(
        Purchase.objects.select_related("installation", "customer")
        .prefetch_related(Prefetch("deliveries", queryset=deliveries))
        .order_by("-received_at", "-id")[:size]
    )
