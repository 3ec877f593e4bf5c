"""An admin installs Shopify, then Mixpanel, through the portal in Chromium."""

import re
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from tests.catalog_integrations.fakes import fake_receiver
from tests.conftest import PASSWORD

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def fake_mixpanel(settings):
    with fake_receiver() as receiver:
        settings.MIXPANEL_CUSTOM_HOSTS = [receiver.url]
        yield receiver


@pytest.mark.browser
def test_an_admin_installs_shopify_and_mixpanel_and_tests_the_connection(
    live_server, settings, acme, page, screenshot, fake_mixpanel
):
    port = urlsplit(live_server.url).port
    settings.BASE_PORT = port
    portal = f"http://acme.localhost:{port}"

    page.goto(f"{portal}/accounts/login/")
    page.get_by_label("Email").fill("admin@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"{portal}/")
    page.get_by_role("link", name="Integrations").click()
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
    screenshot("catalog")

    page.get_by_role("link", name="Install Shopify").click()
    page.get_by_label("Name", exact=True).fill("Main shop")
    page.get_by_label("Shop domain").fill("example.com")
    page.get_by_label("Shop domain").blur()
    expect(page.locator("#error-shop_domain")).to_have_text(
        "Enter the shop's myshopify.com domain, like example-shop.myshopify.com."
    )
    screenshot("shopify-inline-error")
    page.get_by_label("Shop domain").fill("acme-shop.myshopify.com")
    page.get_by_label("Shop domain").blur()
    expect(page.locator("#error-shop_domain")).to_have_text("")
    page.get_by_label("Webhook signing secret").fill("shpss_browser-secret")
    page.get_by_role("button", name="Install").click()

    expect(page.get_by_role("heading", name="Main shop")).to_be_visible()
    ingest_url = page.get_by_label("Where Shopify sends to").input_value()
    assert re.fullmatch(
        rf"{re.escape(portal)}/api/v1/integrations/shopify/{UUID}/webhooks", ingest_url
    )
    expect(
        page.get_by_text("Choose the JSON format and webhook API version 2025-10.")
    ).to_be_visible()
    assert "shpss_browser-secret" not in page.content()
    screenshot("shopify-installed")
    # The URL read off the page reaches this organisation's ingest route: unsigned, refused.
    path = urlsplit(ingest_url).path
    unsigned = httpx.post(
        f"http://127.0.0.1:{port}{path}",
        headers={"Host": f"acme.localhost:{port}"},
        content=b"{}",
        timeout=5,
    )
    assert unsigned.status_code == 401

    page.get_by_role("link", name="Integrations", exact=True).first.click()
    page.get_by_role("link", name="Install Mixpanel").click()
    page.get_by_label("Name", exact=True).fill("Product analytics")
    page.get_by_label("Project token").fill("tok-browser")
    page.get_by_label("API secret", exact=True).fill("mp-browser-secret")
    page.get_by_label("API host").fill(fake_mixpanel.url)
    page.get_by_role("button", name="Install").click()

    expect(page.get_by_role("heading", name="Product analytics")).to_be_visible()
    page.get_by_role("button", name="Test the connection").click()
    expect(page.locator("#connection-result")).to_have_text(
        f"Connected: {fake_mixpanel.url} accepted the credentials (HTTP 200) and said: OK."
    )
    screenshot("mixpanel-connection-test")
    assert [r["path"] for r in fake_mixpanel.requests] == ["/import?strict=1"]
    assert "mp-browser-secret" not in page.content()

    page.get_by_role("link", name="Integrations", exact=True).first.click()
    expect(page.locator("#card-shopify")).to_contain_text("1 installed")
    expect(page.locator("#card-mixpanel")).to_contain_text("1 installed")
