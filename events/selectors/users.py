"""Reads of users (`Customer`) and their identities, in the current organisation's schema."""

import operator
from collections.abc import Iterable
from functools import reduce
from uuid import UUID

from django.db.models import Prefetch, Q, QuerySet
from django.db.models.functions import Lower

from catalog_integrations.models import Installation
from catalog_integrations.registry import get_integration
from events.models import Customer, Identity


def _with_identities(queryset: QuerySet[Customer]) -> QuerySet[Customer]:
    return queryset.prefetch_related(
        Prefetch("identities", queryset=Identity.objects.order_by("created_at", "id"))
    )


def customer_list(
    *,
    email: str | None = None,
    installation_id: UUID | None = None,
    external_id: str | None = None,
) -> QuerySet[Customer]:
    """Users oldest first, optionally filtered by email (any case) and/or one identity."""
    queryset = Customer.objects.order_by("created_at", "id")
    if email is not None:
        queryset = queryset.alias(email_ci=Lower("email")).filter(email_ci=email.strip().lower())
    if installation_id is not None and external_id is not None:
        queryset = queryset.filter(
            identities__installation_id=installation_id, identities__external_id=external_id
        )
    return queryset


def customer_page(
    queryset: QuerySet[Customer], *, limit: int, offset: int
) -> tuple[list[Customer], int]:
    """One page with identities prefetched, and the total: three queries, whatever the size."""
    count = queryset.count()
    items = list(_with_identities(queryset)[offset : offset + limit]) if offset < count else []
    return items, count


def customer_get(*, customer_id: UUID) -> Customer | None:
    return _with_identities(Customer.objects.filter(pk=customer_id)).first()


def customers_with_identities(customer_ids: Iterable[UUID]) -> dict[UUID, Customer]:
    ids = set(customer_ids)
    if not ids:
        return {}
    return {c.pk: c for c in _with_identities(Customer.objects.filter(pk__in=ids))}


def customer_ids_by_email(emails: Iterable[str]) -> dict[str, UUID]:
    """Lower-cased email -> user id, for the emails that belong to a user."""
    wanted = {email.lower() for email in emails}
    if not wanted:
        return {}
    rows = (
        Customer.objects.alias(email_ci=Lower("email"))
        .filter(email_ci__in=wanted)
        .values_list("email", "pk")
    )
    return {email.lower(): pk for email, pk in rows}


def identity_owners(refs: Iterable[tuple[UUID, str]]) -> dict[tuple[UUID, str], UUID]:
    """(installation id, external id) -> the id of the user it belongs to, for linked ones."""
    wanted = set(refs)
    if not wanted:
        return {}
    by_installation: dict[UUID, set[str]] = {}
    for installation_id, external_id in wanted:
        by_installation.setdefault(installation_id, set()).add(external_id)
    matches = reduce(
        operator.or_,
        (Q(installation_id=i, external_id__in=ids) for i, ids in by_installation.items()),
    )
    rows = Identity.objects.filter(matches).values_list(
        "installation_id", "external_id", "customer_id"
    )
    return {(installation, external): customer for installation, external, customer in rows}


def source_installation_ids(installation_ids: Iterable[UUID]) -> set[UUID]:
    """The given ids that name a source installation (Shopify, API...) of this organisation.

    An identity may only point to one of these.
    """
    wanted = set(installation_ids)
    if not wanted:
        return set()
    rows = Installation.objects.filter(pk__in=wanted).values_list("pk", "integration")
    return {pk for pk, key in rows if _is_source(key)}


def _is_source(integration_key: str) -> bool:
    integration = get_integration(integration_key)
    return integration is not None and integration.kind == "source"
