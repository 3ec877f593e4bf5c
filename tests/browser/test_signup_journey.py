"""The whole first visit in Chromium: sign up, verify the mailed link, sign in, sign out."""

import re
from urllib.parse import urlsplit

from allauth.account.models import EmailAddress
from django.core import mail
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from tenants.models import Organisation

PASSWORD = "journey-passphrase-42"


def test_a_newcomer_signs_up_verifies_signs_in_and_signs_out(
    live_server, settings, page, screenshot, provisioned
):
    port = urlsplit(live_server.url).port
    settings.BASE_PORT = port
    public = f"http://localhost:{port}"
    portal = f"http://journey.localhost:{port}"
    provisioned.append("journey")

    page.goto(f"{public}/")
    screenshot("landing")
    page.get_by_role("link", name="Create your organisation").click()
    expect(page).to_have_url(f"{public}/signup/")
    page.get_by_label("Organisation name").fill("Journey Shop")
    page.get_by_label("Portal address").fill("journey")
    page.get_by_label("Your email").fill("owner@journey.test")
    page.get_by_label("Password").fill(PASSWORD)
    screenshot("signup")
    page.get_by_role("button", name="Create organisation").click()

    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    expect(page.get_by_role("link", name=f"{portal}/")).to_be_visible()
    screenshot("signup-done")
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+", mail.outbox[0].body).group(0)
    assert link.startswith(f"{portal}/accounts/confirm-email/")

    page.goto(link)
    expect(page.get_by_text("owner@journey.test")).to_be_visible()
    screenshot("confirm-email")
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(f"{portal}/accounts/login/")
    screenshot("sign-in")
    page.get_by_label("Email").fill("owner@journey.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    expect(page).to_have_url(f"{portal}/")
    expect(page.get_by_role("heading", name="Journey Shop")).to_be_visible()
    expect(page.get_by_text("Signed in as owner@journey.test.", exact=True)).to_be_visible()
    screenshot("portal")
    page.get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(f"{portal}/accounts/login/")
    screenshot("signed-out")
    page.goto(f"{portal}/")
    expect(page).to_have_url(f"{portal}/accounts/login/?next=/")
    with tenant_context(Organisation.objects.get(slug="journey")):
        assert EmailAddress.objects.get(email="owner@journey.test").verified is True
