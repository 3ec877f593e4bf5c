"""Reads of purchases and refunds, with their deliveries, in the current organisation."""

from datetime import datetime
from uuid import UUID

from django.db.models import Prefetch, QuerySet

from ..models import Delivery, Purchase


def purchase_list(
    *,
    installation_id: UUID | None = None,
    user_id: UUID | None = None,
    order_id: str | None = None,
    kind: str | None = None,
    occurred_after: datetime | None = None,
    occurred_before: datetime | None = None,
) -> QuerySet[Purchase]:
    """Newest first. `occurred_after` is inclusive, `occurred_before` exclusive."""
    queryset = Purchase.objects.order_by("-occurred_at", "-id")
    if installation_id is not None:
        queryset = queryset.filter(installation_id=installation_id)
    if user_id is not None:
        queryset = queryset.filter(customer_id=user_id)
    if order_id is not None:
        queryset = queryset.filter(order_id=order_id)
    if kind is not None:
        queryset = queryset.filter(kind=kind)
    if occurred_after is not None:
        queryset = queryset.filter(occurred_at__gte=occurred_after)
    if occurred_before is not None:
        queryset = queryset.filter(occurred_at__lt=occurred_before)
    return queryset


def purchase_page(
    queryset: QuerySet[Purchase], *, limit: int, offset: int
) -> tuple[list[Purchase], int]:
    """One page with deliveries prefetched, and the total: three queries at most."""
    count = queryset.count()
    if offset >= count:
        return [], count
    deliveries = Delivery.objects.order_by("created_at", "destination_id").only(
        "purchase_id", "destination_id", "state", "attempts", "last_error", "created_at"
    )
    page = queryset.prefetch_related(Prefetch("deliveries", queryset=deliveries))
    return list(page[offset : offset + limit]), count
