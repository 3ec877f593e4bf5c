"""Helpers for the users API tests: installations and users made straight in a schema."""

from django_tenants.utils import tenant_context

from catalog_integrations.models import Installation
from events.models import Customer, Identity


def installation(org, integration: str = "shopify", name: str = "Shop") -> Installation:
    with tenant_context(org.organisation):
        return Installation.objects.create(integration=integration, name=name)


def users_with_identities(org, count: int, *, installation_id, prefix: str = "u") -> None:
    with tenant_context(org.organisation):
        customers = Customer.objects.bulk_create(
            Customer(email=f"{prefix}{n}@example.com", name=f"User {n}") for n in range(count)
        )
        Identity.objects.bulk_create(
            Identity(customer=c, installation_id=installation_id, external_id=f"{prefix}-{n}")
            for n, c in enumerate(customers)
        )


def identity(installation_id, external_id) -> dict:
    return {"installation_id": str(installation_id), "external_id": external_id}
