"""Checks shared by the two fixture-order modules (CASES C12)."""

from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from accounts.models import Member


def assert_on_public() -> None:
    assert connection.schema_name == "public"


def assert_serves_only_itself(org, other) -> None:
    """The organisation's schema holds its own admin, and its host shows its own name."""
    with tenant_context(org.organisation):
        emails = list(Member.objects.values_list("email", flat=True))

    response = org.signed_in().get("/")

    assert emails == [f"admin@{org.slug}.test"]
    assert response.status_code == 200
    assert response.wsgi_request.tenant.schema_name == org.slug
    assert org.organisation.name.encode() in response.content
    assert other.organisation.name.encode() not in response.content


def assert_public_site_is_served() -> None:
    """The public organisation and its domain are rows a flush removes."""
    response = Client().get("/", HTTP_HOST="localhost")

    assert response.status_code == 200
    assert response.wsgi_request.tenant.schema_name == "public"


def leave_connection_inside(org) -> None:
    """What a careless test does: the shared fixture must still put public back."""
    connection.set_tenant(org.organisation)
