"""The portal's integration pages, as an admin uses them."""

import pytest
from django.urls import NoReverseMatch
from django.urls import reverse as real_reverse
from django_tenants.utils import tenant_context

from accounts.models import AuditEntry
from catalog_integrations import views
from catalog_integrations.models import Installation

from .conftest import install, mixpanel_config, shopify_config


@pytest.fixture(autouse=True)
def _base_url(settings):
    settings.BASE_SCHEME, settings.BASE_HOST, settings.BASE_PORT = "http", "localhost", 8000


def test_the_nav_links_to_the_catalog(acme):
    page = acme.signed_in().get("/").content.decode()

    assert '<a href="/integrations/">Integrations</a>' in page


def test_the_catalog_shows_a_card_per_integration_with_its_installed_count(acme):
    install(acme, "shopify", "One", shopify_config(shop="one"))
    install(acme, "shopify", "Two", shopify_config(shop="two"))

    page = acme.signed_in().get("/integrations/").content.decode()

    assert page.count('class="card"') == 4
    shopify_card = page.split('id="card-shopify"')[1].split("</li>")[0]
    mixpanel_card = page.split('id="card-mixpanel"')[1].split("</li>")[0]
    assert "Receives paid orders, refunds and cancellations" in shopify_card
    assert "2 installed" in shopify_card
    assert "Not installed" in mixpanel_card
    assert 'href="/integrations/mixpanel/install/"' in mixpanel_card


def test_the_catalog_needs_a_signed_in_member(acme):
    response = acme.client().get("/integrations/")

    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/integrations/"


def test_installing_shopify_leads_to_its_page_with_the_ingest_url_and_the_steps(acme):
    client = acme.signed_in()

    response = client.post(
        "/integrations/shopify/install/",
        {
            "name": "Main shop",
            "shop_domain": "acme-shop.myshopify.com",
            "webhook_secret": "s3cret",
            "purchase_topic": "orders/create",
            "include_test_orders": "on",
        },
    )
    with tenant_context(acme.organisation):
        installation = Installation.objects.get()
    page = client.get(response.url).content.decode()

    url = f"http://acme.localhost:8000/api/v1/integrations/shopify/{installation.pk}/webhooks"
    assert response.status_code == 302
    assert installation.config == {
        "shop_domain": "acme-shop.myshopify.com",
        "purchase_topic": "orders/create",
        "include_test_orders": True,
    }
    assert installation.created_by == "admin@acme.test"
    assert f'<input type="text" id="ingest-url" readonly value="{url}">' in page
    assert '<button type="button" data-copy="ingest-url">Copy</button>' in page
    for topic in [
        "orders/create",
        "refunds/create",
        "orders/cancelled",
        "app/uninstalled",
        "customers/data_request",
        "customers/redact",
        "shop/redact",
    ]:
        assert f"<li><code>{topic}</code></li>" in page
    assert "<code>orders/paid</code>" not in page
    assert "Choose the JSON format and webhook API version 2025-10." in page
    assert f"<br><code>{url}</code>" in page
    assert "Webhook signing secret: set" in page
    assert "Replace the signing secret" in page


def test_the_api_integration_page_shows_its_ingest_url_and_key_state(acme):
    installation = install(acme, "api", "Backend", {}).installation

    page = acme.signed_in().get(f"/integrations/installations/{installation.pk}/")

    body = page.content.decode()
    url = f"http://acme.localhost:8000/api/v1/integrations/api/{installation.pk}/purchases"
    assert f'value="{url}"' in body
    assert f"API key: set. Key {installation.config['key_prefix']}_… created " in body
    assert "Generate a new key" in body


def test_a_mixpanel_page_has_a_connection_test_and_no_ingest_url(acme):
    installation = install(acme, "mixpanel", "Project", mixpanel_config()).installation

    body = acme.signed_in().get(f"/integrations/installations/{installation.pk}/").content.decode()

    assert "Test the connection" in body
    assert 'id="ingest-url"' not in body
    assert '<tr><th scope="row">Data residency</th><td>eu</td></tr>' in body
    assert "API secret: set" in body
    assert "Service account secret: not set" in body


def test_editing_changes_the_configuration_and_writes_an_audit_row(acme):
    installation = install(acme, "shopify", "Shop", shopify_config()).installation

    response = acme.signed_in().post(
        f"/integrations/installations/{installation.pk}/edit/",
        {
            "name": "Shop",
            "shop_domain": "other-shop.myshopify.com",
            "purchase_topic": "orders/paid",
        },
    )

    with tenant_context(acme.organisation):
        stored = Installation.objects.get()
        audit = AuditEntry.objects.get(action="installation.updated")
    assert response.status_code == 302
    assert stored.unique_key == "shopify:other-shop.myshopify.com"
    assert audit.changes == {"shop_domain": ["acme-shop.myshopify.com", "other-shop.myshopify.com"]}


def test_switching_mixpanel_to_a_service_account_drops_the_api_secret(acme):
    installation = install(acme, "mixpanel", "MP", mixpanel_config()).installation

    response = acme.signed_in().post(
        f"/integrations/installations/{installation.pk}/edit/",
        {
            "name": "MP",
            "project_token": "tok-acme",
            "service_account_username": "sa.user",
            "service_account_secret": "sa-secret",
            "project_id": "123",
            "region": "us",
        },
    )

    from catalog_integrations.crypto import read_secrets
    from catalog_integrations.mixpanel.settings import mixpanel_auth, mixpanel_endpoint

    with tenant_context(acme.organisation):
        stored = Installation.objects.get()
    assert response.status_code == 302
    assert read_secrets(stored) == {"service_account_secret": "sa-secret"}
    assert mixpanel_auth(stored).basic == ("sa.user", "sa-secret")
    assert mixpanel_auth(stored).params == {"project_id": "123"}
    assert mixpanel_endpoint(stored) == "https://api.mixpanel.com"


def test_disabling_and_enabling_an_installation(acme):
    installation = install(acme, "shopify", "Shop", shopify_config()).installation
    client = acme.signed_in()
    url = f"/integrations/installations/{installation.pk}/active/"

    client.post(url, {"is_active": "0"})
    with tenant_context(acme.organisation):
        disabled = Installation.objects.get().is_active
    page = client.get(f"/integrations/installations/{installation.pk}/").content.decode()
    client.post(url, {"is_active": "1"})

    with tenant_context(acme.organisation):
        enabled = Installation.objects.get().is_active
        actions = list(
            AuditEntry.objects.filter(action__in=["installation.disabled", "installation.enabled"])
            .order_by("occurred_at")
            .values_list("action", flat=True)
        )
    assert disabled is False
    assert '<span class="badge bad">Disabled</span>' in page
    assert '<button type="submit">Enable</button>' in page
    assert enabled is True
    assert actions == ["installation.disabled", "installation.enabled"]


def test_the_delete_confirmation_states_what_happens_to_purchases_and_deliveries(acme):
    source = install(acme, "shopify", "Shop", shopify_config()).installation
    destination = install(acme, "mixpanel", "MP", mixpanel_config()).installation
    client = acme.signed_in()

    source_page = client.get(f"/integrations/installations/{source.pk}/delete/").content.decode()
    destination_page = client.get(
        f"/integrations/installations/{destination.pk}/delete/"
    ).content.decode()

    assert "also deletes every purchase and refund\n  it recorded" in source_page
    assert "also deletes every delivery to it" in destination_page
    assert "Your purchases stay" in destination_page


def test_the_delete_confirmation_has_a_counts_slot_only_when_events_offers_one(acme, monkeypatch):
    installation = install(acme, "shopify", "Shop", shopify_config()).installation
    client = acme.signed_in()
    url = f"/integrations/installations/{installation.pk}/delete/"

    def events_reverse(offered: bool):
        def reverse(name, *args, **kwargs):
            if name != "events:installation_summary":
                return real_reverse(name, *args, **kwargs)
            if not offered:
                raise NoReverseMatch(name)
            return f"/deliveries/summary/{kwargs['args'][0]}/"

        return reverse

    monkeypatch.setattr(views, "reverse", events_reverse(False))
    without = client.get(url).content.decode()
    monkeypatch.setattr(views, "reverse", events_reverse(True))
    with_slot = client.get(url).content.decode()

    assert "/deliveries/summary/" not in without
    assert (
        f'<div hx-get="/deliveries/summary/{installation.pk}/" hx-trigger="load" '
        'aria-live="polite"></div>'
    ) in with_slot


def test_deleting_removes_the_installation_and_writes_an_audit_row(acme):
    installation = install(acme, "shopify", "Shop", shopify_config()).installation

    response = acme.signed_in().post(f"/integrations/installations/{installation.pk}/delete/")

    with tenant_context(acme.organisation):
        gone = not Installation.objects.exists()
        audit = AuditEntry.objects.get(action="installation.deleted")
    assert response.status_code == 302
    assert response.url == "/integrations/"
    assert gone
    assert audit.target_id == str(installation.pk)
    assert audit.changes == {"integration": "shopify", "name": "Shop"}


def test_an_unknown_integration_or_installation_is_404(acme):
    client = acme.signed_in()

    assert client.get("/integrations/nope/install/").status_code == 404
    missing = "/integrations/installations/00000000-0000-0000-0000-000000000000/"
    assert client.get(missing).status_code == 404
