"""An organisation deleted and a new one signed up under the same slug share nothing."""

from datetime import timedelta
from decimal import Decimal

from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.actors import Actor
from catalog_integrations.models import Installation
from events.models import Purchase
from tenants.services import organisation_create, organisation_delete

ACTOR = Actor.system("tests")


def _create(slug: str):
    return organisation_create(slug=slug, name=slug, admin_email=f"a@{slug}.test", actor=ACTOR)


def _overview_revenue(provisioned_org) -> dict:
    client = Client(HTTP_HOST=f"{provisioned_org.organisation.slug}.localhost")
    with tenant_context(provisioned_org.organisation):
        client.force_login(provisioned_org.admin)
    response = client.get("/")
    assert response.status_code == 200
    return {entry.currency: entry.net for entry in response.context["sales"].revenue}


def test_a_new_organisation_on_a_deleted_ones_slug_does_not_see_its_cached_charts(provisioned):
    provisioned.append("reused")
    first = _create("reused")
    with tenant_context(first.organisation):
        shop = Installation.objects.create(integration="api", name="Back office")
        Purchase.objects.create(
            installation=shop,
            kind="purchase",
            dedupe_key="o1",
            order_id="o1",
            amount=Decimal("98765.43"),
            currency="EUR",
            occurred_at=timezone.now() - timedelta(hours=1),
        )
    assert _overview_revenue(first) == {"EUR": Decimal("98765.43")}

    organisation_delete(organisation=first.organisation, actor=ACTOR)
    second = _create("reused")

    assert _overview_revenue(second) == {}
