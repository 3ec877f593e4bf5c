"""Reads of the outbox for the portal: deliveries, a purchase's timeline, stuck work."""

from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from catalog_integrations.models import Installation
from catalog_integrations.registry import destinations

from ..models import Delivery, DeliveryAttempt, DeliveryState, Purchase


def destination_installations() -> QuerySet[Installation]:
    """Installations of destination integrations, paused or not."""
    keys = [integration.key for integration in destinations()]
    return Installation.objects.filter(integration__in=keys).order_by("name", "pk")


def destination_get(*, destination_id) -> Installation | None:
    return destination_installations().filter(pk=destination_id).first()


def paused_destinations() -> QuerySet[Installation]:
    return destination_installations().filter(paused_at__isnull=False, is_active=True)


def deliveries_list(*, state: str = "", destination_id=None) -> QuerySet[Delivery]:
    deliveries = Delivery.objects.select_related(
        "purchase", "purchase__installation", "destination"
    ).order_by("-created_at", "-pk")
    if state:
        deliveries = deliveries.filter(state=state)
    if destination_id:
        deliveries = deliveries.filter(destination_id=destination_id)
    return deliveries


def delivery_counts(*, destination_id=None) -> dict[str, int]:
    """How many deliveries are in each state (every state named, zeros included)."""
    rows = Delivery.objects.all()
    if destination_id:
        rows = rows.filter(destination_id=destination_id)
    found = dict(rows.values_list("state").annotate(n=Count("pk")).order_by())
    return {state: found.get(state, 0) for state in DeliveryState.values}


def purchase_timeline(*, purchase_id) -> Purchase | None:
    """A purchase with its deliveries and every attempt of each, oldest first."""
    attempts = DeliveryAttempt.objects.order_by("started_at", "pk")
    deliveries = Delivery.objects.select_related("destination").prefetch_related(
        Prefetch("attempt_log", queryset=attempts)
    )
    return (
        Purchase.objects.select_related("installation", "customer", "parent")
        .prefetch_related(Prefetch("deliveries", queryset=deliveries))
        .filter(pk=purchase_id)
        .first()
    )


def deliveries_stuck() -> QuerySet[Delivery]:
    """In flight with a lease that ran out: the worker that claimed them is gone."""
    return (
        Delivery.objects.select_related("purchase", "destination")
        .filter(state=DeliveryState.IN_FLIGHT, lease_expires_at__lte=timezone.now())
        .order_by("lease_expires_at", "pk")
    )
