"""Each request gets its own copy of a remembered source, configuration included.

The instance read fresh is kept apart from the remembered one (its configuration is
copied deeply), but the instance handed out from memory shares its configuration with
the one kept: a request that changes it in place changes what the next requests get,
and the write's check cannot see it, as it compares the database row with the text
read back then, not with the configuration in memory.
"""

import json

from django_tenants.utils import tenant_context

from catalog_integrations.sources import ingest_source
from events.models import Purchase
from tests.events.ingest_support import (
    SAMPLE_SHOP,
    mixpanel_install,
    post_webhook,
    shopify_install,
    signed_copy,
)


def test_a_change_made_in_memory_to_a_remembered_instance_does_not_reach_the_next_request(acme):
    shop = shopify_install(acme)
    with tenant_context(acme.organisation):
        ingest_source(str(shop.pk), "shopify")
        handed_out = ingest_source(str(shop.pk), "shopify")
        handed_out.installation.config["shop_domain"] = "changed-in-memory.myshopify.com"
        next_request = ingest_source(str(shop.pk), "shopify")

    assert handed_out.remembered is True
    assert next_request.installation.config["shop_domain"] == SAMPLE_SHOP


def test_a_test_order_stays_ignored_after_a_request_changed_its_copy_in_memory(acme):
    shop = shopify_install(acme, include_test_orders=False)
    mixpanel_install(acme)
    body, headers = signed_copy("orders-paid", id=1)
    assert post_webhook(acme.client(), shop, body, headers).json() == {"status": "recorded"}
    with tenant_context(acme.organisation):
        handed_out = ingest_source(str(shop.pk), "shopify")
        handed_out.installation.config["include_test_orders"] = True

    body, headers = signed_copy("orders-paid", id=2, test=True)
    response = post_webhook(acme.client(), shop, body, headers)

    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ignored"}
    with tenant_context(acme.organisation):
        assert list(Purchase.objects.values_list("order_id", flat=True)) == ["1"]
