"""Bad configuration gets a clear message on the right field, and nothing is saved."""

import pytest
from django_tenants.utils import tenant_context

from accounts.errors import ApplicationError
from accounts.models import AuditEntry
from catalog_integrations.models import Installation

from .conftest import install, mixpanel_config, shopify_config


def _nothing_saved(org) -> bool:
    with tenant_context(org.organisation):
        return (
            not Installation.objects.exists()
            and not AuditEntry.objects.filter(action__startswith="installation.").exists()
        )


def _errors(exc_info) -> dict:
    return {e.field: e.message for e in exc_info.value.errors}


def test_a_bad_shop_domain_is_refused_by_the_service(acme):
    with pytest.raises(ApplicationError) as exc_info:
        install(acme, "shopify", "Shop", shopify_config(shop="evil.example.com/x"))

    assert exc_info.value.code == "validation_error"
    assert exc_info.value.status == 422
    assert _errors(exc_info) == {
        "shop_domain": "Enter the shop's myshopify.com domain, like example-shop.myshopify.com."
    }
    assert _nothing_saved(acme)


@pytest.mark.parametrize(
    "domain", ["example.com", "shop.myshopify.com.evil.io", "-x.myshopify.com", "a b.myshopify.com"]
)
def test_a_bad_shop_domain_is_refused_on_the_install_page(acme, domain):
    response = acme.signed_in().post(
        "/integrations/shopify/install/",
        {"name": "Shop", "shop_domain": domain, "webhook_secret": "s3cret-value"},
    )

    assert response.status_code == 422
    assert "Enter the shop&#x27;s myshopify.com domain" in response.content.decode()
    assert _nothing_saved(acme)


def test_a_shop_domain_is_stored_in_lower_case_without_scheme(acme):
    result = install(acme, "shopify", "Shop", shopify_config(shop="https://Acme-Shop"))

    assert result.installation.config["shop_domain"] == "acme-shop.myshopify.com"
    assert result.installation.unique_key == "shopify:acme-shop.myshopify.com"


def test_a_missing_webhook_secret_is_refused(acme):
    response = acme.signed_in().post(
        "/integrations/shopify/install/",
        {"name": "Shop", "shop_domain": "acme-shop.myshopify.com", "webhook_secret": ""},
    )

    assert response.status_code == 422
    assert "This secret is required." in response.content.decode()
    assert _nothing_saved(acme)


def test_a_missing_mixpanel_secret_is_refused(acme):
    with pytest.raises(ApplicationError) as exc_info:
        install(acme, "mixpanel", "MP", {"project_token": "tok", "region": "us"})

    assert _errors(exc_info) == {
        "api_secret": "Enter the API secret, or a service account instead."
    }
    assert _nothing_saved(acme)


def test_an_incomplete_service_account_names_each_missing_part(acme):
    config = {"project_token": "tok", "service_account_username": "sa.user"}

    with pytest.raises(ApplicationError) as exc_info:
        install(acme, "mixpanel", "MP", config)

    message = "A service account needs its user name, secret and project id."
    assert _errors(exc_info) == {"service_account_secret": message, "project_id": message}
    assert _nothing_saved(acme)


def test_an_api_secret_and_a_service_account_together_are_refused(acme):
    config = mixpanel_config(service_account_username="sa", service_account_secret="sas")

    with pytest.raises(ApplicationError) as exc_info:
        install(acme, "mixpanel", "MP", config)

    assert _errors(exc_info) == {
        "api_secret": "Enter either an API secret or a service account, not both."
    }


@pytest.mark.parametrize(
    "host",
    [
        "https://evil.example.com",
        "http://api.mixpanel.com",
        "https://api.mixpanel.com.evil.io",
        "https://user@api.mixpanel.com",
        "https://api.mixpanel.com/track",
        "http://127.0.0.1:18299",
        "api-eu.mixpanel.com",
    ],
)
def test_a_mixpanel_host_that_is_not_allowed_is_refused(acme, host):
    response = acme.signed_in().post(
        "/integrations/mixpanel/install/",
        {"name": "MP", "project_token": "tok", "api_secret": "sec", "api_host": host},
    )

    assert response.status_code == 422
    assert "This host is not allowed" in response.content.decode()
    assert _nothing_saved(acme)


def test_a_regional_or_configured_mixpanel_host_is_accepted(acme, settings):
    settings.MIXPANEL_CUSTOM_HOSTS = ["http://127.0.0.1:18299"]

    eu = install(acme, "mixpanel", "EU", mixpanel_config(api_host="HTTPS://API-EU.mixpanel.com/"))
    local = install(acme, "mixpanel", "Local", mixpanel_config(api_host="http://127.0.0.1:18299"))

    assert eu.installation.config["api_host"] == "https://api-eu.mixpanel.com"
    assert local.installation.config["api_host"] == "http://127.0.0.1:18299"


def test_the_same_shop_is_installed_once_per_organisation(acme, borealis):
    install(acme, "shopify", "First", shopify_config())

    with pytest.raises(ApplicationError) as exc_info:
        install(acme, "shopify", "Again", shopify_config(shop="ACME-SHOP"))
    elsewhere = install(borealis, "shopify", "Borealis too", shopify_config())

    assert exc_info.value.code == "already_installed"
    assert exc_info.value.status == 409
    assert _errors(exc_info) == {"shop_domain": "Already installed in this organisation."}
    assert elsewhere.installation.config["shop_domain"] == "acme-shop.myshopify.com"


def test_two_shops_and_two_mixpanel_projects_can_be_installed(acme):
    install(acme, "shopify", "One", shopify_config(shop="one"))
    install(acme, "shopify", "Two", shopify_config(shop="two"))
    install(acme, "mixpanel", "P1", mixpanel_config())
    install(acme, "mixpanel", "P2", mixpanel_config(project_token="tok-2"))

    with tenant_context(acme.organisation):
        names = list(Installation.objects.values_list("name", flat=True))
    assert names == ["P1", "P2", "One", "Two"]


def test_unknown_configuration_keys_and_a_blank_name_are_refused(acme):
    with pytest.raises(ApplicationError) as exc_info:
        install(acme, "shopify", "  ", shopify_config(colour="red"))

    assert _errors(exc_info) == {
        "name": "Give the installation a name.",
        "colour": "'colour' is not a setting of Shopify.",
    }
    assert _nothing_saved(acme)


def test_inline_check_reports_errors_of_filled_fields_only_and_saves_nothing(acme):
    response = acme.signed_in().post(
        "/integrations/shopify/install/check/",
        {"name": "Shop", "shop_domain": "nope.com", "webhook_secret": ""},
        HTTP_HX_REQUEST="true",
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert (
        '<p class="error" id="error-shop_domain" aria-live="polite" hx-swap-oob="true">'
        "Enter the shop&#x27;s myshopify.com domain, like example-shop.myshopify.com. </p>"
    ) in body
    assert (
        '<p class="error" id="error-webhook_secret" aria-live="polite" hx-swap-oob="true"></p>'
    ) in body
    assert _nothing_saved(acme)


def test_inline_check_reports_a_shop_already_installed(acme):
    install(acme, "shopify", "First", shopify_config())

    response = acme.signed_in().post(
        "/integrations/shopify/install/check/",
        {"name": "Again", "shop_domain": "acme-shop.myshopify.com", "webhook_secret": "x"},
        HTTP_HX_REQUEST="true",
    )

    assert "Already installed in this organisation." in response.content.decode()
