"""Reads for the portal's user pages: search by email or identity, one user's page."""

import uuid

from django.db.models import Prefetch, QuerySet
from django.db.models.functions import Lower

from ..models import Customer, Identity, Purchase

# A user's page lists this many of their newest purchases.
USER_PURCHASES_SHOWN = 50


def customer_search(query: str = "") -> QuerySet[Customer]:
    """Users matching a search, ready to be paged by (created_at, id).

    A user id matches that user; text with an `@` matches emails that start with it (any
    case); anything else matches an identity's external id exactly or an email prefix.
    """
    customers = Customer.objects.prefetch_related(
        Prefetch(
            "identities",
            queryset=Identity.objects.select_related("installation").order_by("created_at"),
        )
    )
    query = query.strip()
    if not query:
        return customers
    try:
        return customers.filter(pk=uuid.UUID(query))
    except ValueError:
        pass
    by_email = (
        Customer.objects.alias(email_ci=Lower("email"))
        .filter(email_ci__startswith=query.lower())
        .order_by()
        .values("pk")
    )
    if "@" not in query:
        # One set of ids from two indexes (email prefix, platform id), then the page.
        by_identity = Identity.objects.filter(external_id=query).order_by().values("customer_id")
        by_email = by_email.union(by_identity)
    return customers.filter(pk__in=by_email)


def customer_id_by_email(email: str) -> uuid.UUID | None:
    """The user with this email, any case (served by the unique index on lower(email))."""
    matching = Customer.objects.alias(email_ci=Lower("email")).filter(email_ci=email.lower())
    return matching.values_list("pk", flat=True).first()


def customer_detail(*, customer_id: uuid.UUID) -> Customer | None:
    identities = Identity.objects.select_related("installation").order_by("created_at")
    return (
        Customer.objects.prefetch_related(Prefetch("identities", queryset=identities))
        .filter(pk=customer_id)
        .first()
    )


def customer_purchases(customer: Customer) -> list[Purchase]:
    """The user's newest purchases and adjustments, served by the (customer, occurred_at) index."""
    return list(
        Purchase.objects.filter(customer=customer)
        .select_related("installation")
        .order_by("-occurred_at", "-id")[:USER_PURCHASES_SHOWN]
    )
