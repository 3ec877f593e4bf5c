"""A process whose host front still holds a deleted organisation answers without a 500:
404 once it is gone, 503 (then the retry is routed afresh) when its host now belongs to
an organisation signed up again.

Deleting an organisation drops its hosts from the shared cache and from the front of
the process that deleted it; every other process keeps routing the host to the
organisation it read for up to `ORGANISATION_HOST_LOCAL_SECONDS`. Each test routes a
webhook (the front and the source memory fill), deletes the organisation, then puts
the front's entries back as another process would still have them.

Transactional: each statement commits as it does in production, so a foreign key
checked at commit fails where it would there.
"""

from types import SimpleNamespace

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from accounts.actors import Actor
from events.models import Purchase
from tenants import cache as host_cache
from tenants.models import WorkDue
from tenants.services import organisation_create, organisation_delete
from tests.events.ingest_support import (
    mixpanel_install,
    post_webhook,
    shopify_install,
    signed_copy,
)

ACTOR = Actor.system("tests")


def _create(slug: str) -> SimpleNamespace:
    organisation = organisation_create(
        slug=slug, name=slug, admin_email=f"admin@{slug}.test", actor=ACTOR
    ).organisation
    return SimpleNamespace(organisation=organisation, host=f"{slug}.localhost")


def _order(org, shop, order_id: int):
    body, headers = signed_copy("orders-paid", id=order_id)
    client = Client(HTTP_HOST=org.host, raise_request_exception=False)
    return post_webhook(client, shop, body, headers)


def _routed_lately(org) -> dict:
    """What this process's front holds for the organisation's host."""
    return {org.host: host_cache._local[org.host]}


@pytest.mark.django_db(transaction=True)
def test_a_deleted_organisations_webhook_is_not_found_where_its_host_was_routed_lately(
    provisioned,
):
    provisioned.append("gone")
    gone = _create("gone")
    shop = shopify_install(gone)
    mixpanel_install(gone)
    assert _order(gone, shop, 1).status_code == 200
    routed = _routed_lately(gone)

    organisation_delete(organisation=gone.organisation, actor=ACTOR)
    host_cache._local.update(routed)
    response = _order(gone, shop, 2)

    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_an_organisation_signed_up_again_records_its_webhooks_where_the_old_one_was_routed(
    provisioned,
):
    provisioned.append("again")
    first = _create("again")
    old_shop = shopify_install(first)
    mixpanel_install(first)
    assert _order(first, old_shop, 1).status_code == 200
    routed = _routed_lately(first)

    organisation_delete(organisation=first.organisation, actor=ACTOR)
    second = _create("again")
    shop = shopify_install(second)
    mixpanel_install(second)
    host_cache._local.update(routed)
    first_try = _order(second, shop, 2)
    retried = _order(second, shop, 2)

    assert (first_try.status_code, first_try["Retry-After"]) == (503, "1")
    assert retried.status_code == 200
    assert retried.json() == {"status": "recorded"}
    with tenant_context(second.organisation):
        assert list(Purchase.objects.values_list("order_id", flat=True)) == ["2"]
    assert WorkDue.objects.filter(organisation=second.organisation).count() == 1
