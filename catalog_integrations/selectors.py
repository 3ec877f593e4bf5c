"""Reads of installations, in the organisation whose schema is active."""

from collections import Counter
from uuid import UUID

from django.core.exceptions import ValidationError
from django.http import Http404

from .models import Installation


def installation_list(*, integration: str | None = None) -> list[Installation]:
    queryset = Installation.objects.all()
    if integration:
        queryset = queryset.filter(integration=integration)
    return list(queryset)


def installation_get(*, installation_id: UUID | str) -> Installation:
    """One installation of this organisation, or 404 (another organisation's id included)."""
    try:
        return Installation.objects.get(pk=installation_id)
    except (Installation.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404("No such installation.") from exc


def installation_counts() -> Counter:
    """How many installations each integration has here."""
    return Counter(Installation.objects.values_list("integration", flat=True))
