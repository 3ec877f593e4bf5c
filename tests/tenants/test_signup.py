"""Sign-up on the public site: an organisation whose admin must verify their email first."""

import re
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import set_urlconf
from django_tenants.utils import tenant_context

import tenants.notifications
from accounts.actors import Actor
from accounts.models import Member
from tenants.models import Domain, Organisation
from tenants.notifications import send_admin_verification
from tenants.services import organisation_create

PASSWORD = "a-long-enough-passphrase"


def _form(slug: str, /, **changes) -> dict:
    return {
        "name": f"{slug.title()} Shop",
        "slug": slug,
        "admin_email": f"Owner@{slug}.test",
        "password": PASSWORD,
        **changes,
    }


def _sign_up(client, capture, slug: str, **changes):
    with capture(execute=True):
        return client.post("/signup/", _form(slug, **changes), HTTP_HOST="localhost")


def _verification_link(message) -> tuple[str, str]:
    """(host, path) of the one link in a verification mail."""
    url = re.search(r"https?://\S+", message.body).group(0)
    parts = urlsplit(url)
    return parts.netloc, parts.path


def _signs_in(host: str, email: str) -> bool:
    client = Client(HTTP_HOST=host)
    client.post("/accounts/login/", {"login": email, "password": PASSWORD})
    return client.get("/").status_code == 200


def _client_organisation_slugs() -> list[str]:
    return list(Organisation.objects.clients().values_list("slug", flat=True))


def test_sign_up_creates_the_organisation_with_an_unverified_admin(
    provisioned, django_capture_on_commit_callbacks
):
    response = _sign_up(Client(), django_capture_on_commit_callbacks, "fresh-shop")
    provisioned.append("fresh-shop")

    assert response.status_code == 302
    assert response.url == "/signup/done/"
    organisation = Organisation.objects.get(slug="fresh-shop")
    assert organisation.name == "Fresh-Shop Shop"
    assert organisation.schema_name == "fresh_shop"
    assert list(organisation.domains.values_list("domain", flat=True)) == ["fresh-shop.localhost"]
    with tenant_context(organisation):
        admin = Member.objects.get()
        address = EmailAddress.objects.get()
    assert admin.email == "owner@fresh-shop.test"
    assert admin.role == "admin"
    assert address.email == "owner@fresh-shop.test"
    assert address.verified is False


def test_the_done_page_names_the_address_and_the_portal(
    provisioned, django_capture_on_commit_callbacks
):
    client = Client()
    _sign_up(client, django_capture_on_commit_callbacks, "done-shop")
    provisioned.append("done-shop")

    response = client.get("/signup/done/", HTTP_HOST="localhost")

    assert response.status_code == 200
    assert b"owner@done-shop.test" in response.content
    assert b"http://done-shop.localhost:8000/" in response.content


def test_the_admin_cannot_sign_in_until_the_link_is_used_and_gets_a_new_one(
    provisioned, django_capture_on_commit_callbacks
):
    _sign_up(Client(), django_capture_on_commit_callbacks, "wait-shop")
    provisioned.append("wait-shop")

    signed_in = _signs_in("wait-shop.localhost", "owner@wait-shop.test")

    assert signed_in is False
    assert len(mail.outbox) == 2
    assert mail.outbox[1].to == ["owner@wait-shop.test"]
    assert "/accounts/confirm-email/" in mail.outbox[1].body


def test_the_mailed_link_verifies_the_admin_who_can_then_sign_in(
    provisioned, django_capture_on_commit_callbacks
):
    _sign_up(Client(), django_capture_on_commit_callbacks, "link-shop")
    provisioned.append("link-shop")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["owner@link-shop.test"]
    host, path = _verification_link(mail.outbox[0])
    assert host == "link-shop.localhost:8000"
    client = Client(HTTP_HOST=host)

    page = client.get(path)
    confirmed = client.post(path)

    assert page.status_code == 200
    assert b"owner@link-shop.test" in page.content
    assert confirmed.status_code == 302
    assert confirmed.url == "/accounts/login/"
    with tenant_context(Organisation.objects.get(slug="link-shop")):
        assert EmailAddress.objects.get().verified is True
    assert _signs_in(host, "owner@link-shop.test") is True


def test_the_link_is_built_while_the_public_sites_urls_are_active(provisioned):
    """As in a real request on the public host, where the mail goes out after commit."""
    organisation = organisation_create(
        slug="url-shop",
        name="Url Shop",
        admin_email="owner@url-shop.test",
        email_verified=False,
        actor=Actor.system(),
    ).organisation
    provisioned.append("url-shop")
    set_urlconf(settings.PUBLIC_SCHEMA_URLCONF)
    try:
        send_admin_verification(organisation=organisation, email="owner@url-shop.test")
    finally:
        set_urlconf(None)

    _, path = _verification_link(mail.outbox[0])
    assert path.startswith("/accounts/confirm-email/")


def test_a_mail_failure_still_answers_with_the_done_page(
    provisioned, django_capture_on_commit_callbacks, monkeypatch
):
    def refuse(**kwargs):
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr(tenants.notifications, "send_mail", refuse)

    response = _sign_up(Client(), django_capture_on_commit_callbacks, "quiet-shop")
    provisioned.append("quiet-shop")

    assert response.status_code == 302
    assert response.url == "/signup/done/"
    assert Organisation.objects.filter(slug="quiet-shop").exists()


def test_one_organisations_link_verifies_nothing_on_another_organisations_host(
    provisioned, django_capture_on_commit_callbacks
):
    _sign_up(Client(), django_capture_on_commit_callbacks, "first-shop")
    _sign_up(Client(), django_capture_on_commit_callbacks, "second-shop")
    provisioned.extend(["first-shop", "second-shop"])
    _, first_path = _verification_link(mail.outbox[0])
    client = Client(HTTP_HOST="second-shop.localhost:8000")

    page = client.get(first_path)
    client.post(first_path)

    assert b"owner@first-shop.test" not in page.content
    with tenant_context(Organisation.objects.get(slug="second-shop")):
        assert EmailAddress.objects.get().verified is False
    with tenant_context(Organisation.objects.get(slug="first-shop")):
        assert EmailAddress.objects.get().verified is False
    assert _signs_in("second-shop.localhost", "owner@second-shop.test") is False


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"slug": "acme"}, "slug", b"This name is already taken."),
        ({"slug": "ACME"}, "slug", b"This name is already taken."),
        ({"slug": "no_underscores"}, "slug", b"Use 3 to 40 lower-case letters"),
        ({"slug": "admin"}, "slug", b"This name is reserved."),
        ({"password": "short"}, "password", b"at least 10 characters"),
        ({"password": "1234567890"}, "password", b"entirely numeric"),
        ({"admin_email": "not-an-address"}, "admin_email", b"Enter a valid email address."),
        ({"name": ""}, "name", b"This field is required."),
    ],
)
def test_invalid_sign_ups_answer_400_and_create_nothing(
    acme, django_capture_on_commit_callbacks, changes, field, message
):
    before = _client_organisation_slugs()
    domains = Domain.objects.count()
    form = _form("new-shop", **changes)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = Client().post("/signup/", form, HTTP_HOST="localhost")

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert message in response.content
    assert _client_organisation_slugs() == before
    assert Domain.objects.count() == domains
    assert callbacks == []
    assert mail.outbox == []


def test_the_post_after_the_limit_gets_429_and_creates_nothing(
    db, settings, django_capture_on_commit_callbacks
):
    settings.SIGNUP_RATE_LIMIT = "2/h"
    client = Client(REMOTE_ADDR="203.0.113.7")
    refused = [
        client.post("/signup/", _form("x", slug="bad_slug"), HTTP_HOST="localhost")
        for _ in range(2)
    ]
    before = _client_organisation_slugs()

    with django_capture_on_commit_callbacks(execute=True):
        limited = client.post("/signup/", _form("late-shop"), HTTP_HOST="localhost")

    assert [r.status_code for r in refused] == [400, 400]
    assert limited.status_code == 429
    assert b"Too many sign-ups" in limited.content
    assert _client_organisation_slugs() == before
    assert mail.outbox == []


def test_the_limit_counts_per_client_address(db, settings):
    settings.SIGNUP_RATE_LIMIT = "1/h"
    busy = Client(REMOTE_ADDR="203.0.113.7")
    other = Client(REMOTE_ADDR="203.0.113.8")
    busy.post("/signup/", _form("x", slug="bad_slug"), HTTP_HOST="localhost")

    limited = busy.post("/signup/", _form("x", slug="bad_slug"), HTTP_HOST="localhost")
    allowed = other.post("/signup/", _form("x", slug="bad_slug"), HTTP_HOST="localhost")

    assert limited.status_code == 429
    assert allowed.status_code == 400


def test_the_sign_up_page_is_not_served_on_an_organisation_host(acme):
    response = acme.client().get("/signup/")

    assert response.status_code == 404
