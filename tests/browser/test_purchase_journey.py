"""Issue 7's whole journey in Chromium: from sign-up to a purchase delivered, failed,
retried and delivered again, watched live in the portal.

A fake Mixpanel runs on loopback. The queue is the dispatch tests' recorder: what the
product enqueues is run here, synchronously, through the real dispatch task, so the test
decides when a worker "runs". Screenshots of every page are kept
under test-artifacts/.
"""

import json
import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from django.core import mail
from playwright.sync_api import expect

from catalog_integrations.mixpanel.receiver import MixpanelReceiver, Reply, default_reply

from ..events import dispatch_support
from ..events.ingest_support import sign

SAMPLES = Path(__file__).resolve().parent.parent / "events" / "samples"
SHOP = "example-shop.myshopify.com"
SECRET = "test-shopify-client-secret-NOT-REAL"  # the samples' signing secret
PASSWORD = "journey-passphrase-42"
PORTS = range(18600, 18700)  # this suite's loopback ports
LIVE_MS = 15_000  # the feed polls every 5 s

# The dispatch tests' queue recorder, as the fixture `recorded_queue`.
recorded_queue = dispatch_support.queue


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18600-18699")


@pytest.fixture
def fake_mixpanel(settings):
    receiver = MixpanelReceiver(_free_port()).start()
    settings.MIXPANEL_CUSTOM_HOSTS = [receiver.url]
    yield receiver
    receiver.stop()


def _sample(name: str) -> tuple[bytes, dict]:
    body = (SAMPLES / f"shopify-{name}.json").read_bytes()
    headers = json.loads((SAMPLES / f"shopify-{name}.headers.json").read_text())["headers"]
    return body, headers


def _post_webhook(port: int, host: str, ingest_path: str, body: bytes, headers: dict):
    response = httpx.post(
        f"http://127.0.0.1:{port}{ingest_path}",
        headers={**headers, "Host": host},
        content=body,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response


@pytest.mark.browser
def test_a_purchase_from_sign_up_to_delivered_failed_retried_and_delivered(
    live_server, settings, page, screenshot, provisioned, fake_mixpanel, recorded_queue
):
    port = urlsplit(live_server.url).port
    settings.BASE_PORT = port
    public = f"http://localhost:{port}"
    portal = f"http://journey7.localhost:{port}"
    host = f"journey7.localhost:{port}"
    provisioned.append("journey7")

    # Sign up, confirm the address, sign in.
    page.goto(f"{public}/signup/")
    page.get_by_label("Organisation name").fill("Journey Seven")
    page.get_by_label("Portal address").fill("journey7")
    page.get_by_label("Your email").fill("owner@journey7.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create organisation").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    link = re.search(r"https?://\S+", mail.outbox[-1].body).group(0)
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_label("Email").fill("owner@journey7.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"{portal}/")
    expect(page.get_by_text("No purchases yet.")).to_be_visible()
    screenshot("overview-empty")

    # Install Shopify (the samples' shop and secret) and Mixpanel (the fake receiver).
    page.get_by_role("link", name="Integrations").click()
    page.get_by_role("link", name="Install Shopify").click()
    page.get_by_label("Name", exact=True).fill("Example shop")
    page.get_by_label("Shop domain").fill(SHOP)
    page.get_by_label("Webhook signing secret").fill(SECRET)
    page.get_by_role("button", name="Install").click()
    expect(page.get_by_role("heading", name="Example shop")).to_be_visible()
    ingest_path = urlsplit(page.get_by_label("Where Shopify sends to").input_value()).path
    screenshot("shopify-installed")

    page.get_by_role("link", name="Integrations", exact=True).first.click()
    page.get_by_role("link", name="Install Mixpanel").click()
    page.get_by_label("Name", exact=True).fill("Product analytics")
    page.get_by_label("Project token").fill("tok-journey")
    page.get_by_label("API secret", exact=True).fill("mp-journey-secret")
    page.get_by_label("API host").fill(fake_mixpanel.url)
    page.get_by_role("button", name="Install").click()
    expect(page.get_by_role("heading", name="Product analytics")).to_be_visible()
    screenshot("mixpanel-installed")

    # A signed orders/paid webhook arrives; the overview shows it without a reload.
    page.get_by_role("link", name="Overview", exact=True).click()
    feed = page.locator("#activity")
    body, headers = _sample("orders-paid")
    _post_webhook(port, host, ingest_path, body, headers)
    paid_row = feed.locator("tr", has_text="6190245830011")
    expect(paid_row).to_contain_text("Awaiting identity", timeout=LIVE_MS)
    expect(paid_row).to_contain_text("86.65 USD")
    screenshot("purchase-appears-live")

    # Its shopper is unknown: link them to a new user, which releases the purchase.
    page.get_by_role("link", name="Held", exact=True).click()
    expect(page.get_by_role("heading", name="Held purchases")).to_be_visible()
    screenshot("held")
    page.get_by_role("link", name=re.compile("Link to a user")).click()
    page.get_by_label("User").fill("casey@journey7.test")
    screenshot("held-link")
    page.get_by_role("button", name="Link and release").click()
    expect(page.get_by_text("the purchase is released to its destinations")).to_be_visible()
    expect(page.get_by_role("heading", name="Purchase 6190245830011")).to_be_visible()
    expect(page.locator("#raw-heading + details")).to_contain_text("orders/paid received")
    screenshot("purchase-released")

    # A worker sends it; the overview sees it delivered.
    page.get_by_role("link", name="Overview", exact=True).click()
    assert len(recorded_queue.run_dispatches()) == 1
    expect(feed.locator("tr", has_text="6190245830011")).to_contain_text(
        "Delivered", timeout=LIVE_MS
    )
    assert len(fake_mixpanel.state.accepted) == 1
    screenshot("delivered-live")

    # The receiver fails; a guest's order arrives and its delivery fails.
    fake_mixpanel.respond = lambda request, state: Reply(503, {"error": "unavailable"})
    body, headers = _sample("orders-create-guest")
    headers = {
        **headers,
        "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Webhook-Id": "journey-guest-1",
        "X-Shopify-Hmac-Sha256": sign(body, SECRET),
    }
    _post_webhook(port, host, ingest_path, body, headers)
    guest_row = feed.locator("tr", has_text="6190245830033")
    expect(guest_row).to_contain_text("Pending", timeout=LIVE_MS)
    assert len(recorded_queue.run_dispatches()) == 1
    expect(guest_row).to_contain_text("Failed", timeout=LIVE_MS)
    screenshot("failed-live")

    # Retry it from its delivery timeline once the receiver is back.
    guest_row.get_by_role("link", name=re.compile("6190245830033")).click()
    expect(page.locator("#deliveries-heading + table")).to_contain_text("Failed")
    screenshot("purchase-failed")
    page.get_by_role("link", name=re.compile("Delivery timeline")).click()
    expect(page.get_by_role("cell", name="503", exact=True)).to_be_visible()
    screenshot("timeline-failed")
    fake_mixpanel.respond = default_reply
    page.get_by_role("button", name="Retry this delivery").click()
    expect(page.get_by_text("queued to be sent again")).to_be_visible()
    assert len(recorded_queue.run_dispatches()) == 1
    page.get_by_role("link", name="Overview", exact=True).click()
    expect(feed.locator("tr", has_text="6190245830033")).to_contain_text(
        "Delivered", timeout=LIVE_MS
    )
    assert len(fake_mixpanel.state.accepted) == 2
    screenshot("retried-delivered-live")

    # The rest of the portal, as the admin sees it, and on a phone.
    page.get_by_role("link", name="Purchases", exact=True).click()
    expect(page.locator("table.list tbody tr")).to_have_count(2)
    screenshot("purchases")
    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_role("link", name="casey@journey7.test").click()
    expect(page.get_by_role("heading", name="casey@journey7.test")).to_be_visible()
    screenshot("user")
    page.get_by_role("link", name="Team", exact=True).click()
    screenshot("team")
    page.get_by_role("link", name="Audit log", exact=True).click()
    expect(page.locator("td code", has_text="delivery.retried")).to_be_visible()
    screenshot("audit-log")

    page.set_viewport_size({"width": 390, "height": 844})
    for name, path in [
        ("phone-overview", "/"),
        ("phone-purchases", "/purchases/"),
        ("phone-held", "/held/"),
        ("phone-users", "/users/"),
        ("phone-team", "/team/"),
        ("phone-audit-log", "/audit/"),
    ]:
        page.goto(f"{portal}{path}")
        no_sideways_scroll = page.evaluate(
            "document.documentElement.scrollWidth <= window.innerWidth"
        )
        assert no_sideways_scroll, f"{path} scrolls sideways at 390 px"
        screenshot(name)
