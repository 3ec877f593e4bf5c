"""Who may do what: viewers read but never change; another organisation sees nothing."""

import pytest
from django_tenants.utils import tenant_context

from catalog_integrations import registry
from catalog_integrations.crypto import read_secrets
from catalog_integrations.models import Installation

from .conftest import SHOP_SECRET, install, shopify_config

CHANGES = [
    ("get", "/integrations/shopify/install/"),
    ("post", "/integrations/shopify/install/"),
    ("post", "/integrations/shopify/install/check/"),
    ("get", "/integrations/installations/{pk}/edit/"),
    ("post", "/integrations/installations/{pk}/edit/"),
    ("post", "/integrations/installations/{pk}/edit/check/"),
    ("post", "/integrations/installations/{pk}/active/"),
    ("get", "/integrations/installations/{pk}/delete/"),
    ("post", "/integrations/installations/{pk}/delete/"),
    ("post", "/integrations/installations/{pk}/rotate/"),
    ("post", "/integrations/installations/{pk}/test/"),
]
CHANGE_DATA = {
    "name": "Changed",
    "shop_domain": "changed.myshopify.com",
    "webhook_secret": "changed-secret",
    "secret": "changed-secret",
    "is_active": "0",
}


def _unchanged(org, installation) -> bool:
    with tenant_context(org.organisation):
        stored = Installation.objects.get(pk=installation.pk)
        return (
            stored.name == "Shop"
            and stored.is_active
            and stored.config["shop_domain"] == "acme-shop.myshopify.com"
            and read_secrets(stored) == {"webhook_secret": SHOP_SECRET}
            and Installation.objects.count() == 1
        )


@pytest.mark.parametrize(("method", "path"), CHANGES)
def test_a_viewer_gets_403_on_every_change(acme, viewer, method, path):
    installation = install(acme, "shopify", "Shop", shopify_config()).installation
    client = acme.signed_in(viewer)

    response = getattr(client, method)(path.format(pk=installation.pk), CHANGE_DATA)

    assert response.status_code == 403
    assert _unchanged(acme, installation)


def test_a_viewer_reads_the_catalog_and_an_installation_without_change_controls(acme, viewer):
    installation = install(acme, "shopify", "Shop", shopify_config()).installation
    client = acme.signed_in(viewer)

    catalog = client.get("/integrations/")
    page = client.get(f"/integrations/installations/{installation.pk}/")

    assert catalog.status_code == 200
    assert "/install/" not in catalog.content.decode()
    assert page.status_code == 200
    assert 'id="ingest-url"' in page.content.decode()
    for control in ("/edit/", "/delete/", "/rotate/", "/active/"):
        assert control not in page.content.decode()


READS = [("get", "/integrations/installations/{pk}/")]


@pytest.mark.parametrize(("method", "path"), READS + CHANGES[3:])
def test_an_installation_of_acme_is_404_on_borealis_portal(acme, borealis, method, path):
    installation = install(acme, "shopify", "Shop", shopify_config()).installation
    client = borealis.signed_in()

    response = getattr(client, method)(path.format(pk=installation.pk), CHANGE_DATA)

    assert response.status_code == 404
    assert _unchanged(acme, installation)


def test_borealis_catalog_does_not_list_acme_installations(acme, borealis):
    install(acme, "shopify", "Acme's shop", shopify_config())

    page = borealis.signed_in().get("/integrations/").content.decode()

    assert "Acme&#x27;s shop" not in page
    assert "Nothing installed yet." in page
    assert page.split('id="card-shopify"')[1].split("</li>")[0].count("Not installed") == 1


@pytest.mark.parametrize(
    "integration",
    [i for i in registry.sources() if registry.has_router(i.key)],
    ids=lambda i: i.key,
)
def test_an_installation_of_acme_is_404_on_borealis_api(acme, borealis, integration):
    config = {"shopify": shopify_config(), "api": {}}.get(
        integration.key, {"endpoint_label": "x", "token": "t"}
    )
    installation = install(acme, integration.key, "Source", config).installation
    path = integration.ingest_url(installation, slug="x").split("/", 3)[3]

    response = borealis.client().post(f"/{path}", b"{}", content_type="application/json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
