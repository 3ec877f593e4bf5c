from django.contrib.auth import SESSION_KEY
from django.test import Client
from django_tenants.utils import tenant_context

from accounts.models import Member


def test_acme_session_is_anonymous_on_borealis_even_with_the_same_member_id(acme, borealis):
    assert acme.admin.pk == borealis.admin.pk  # both first members: the same id
    client = acme.signed_in()
    assert client.get("/", HTTP_HOST=acme.host).status_code == 200

    response = client.get("/", HTTP_HOST=borealis.host)

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_session_cookie_is_host_only(acme):
    client = acme.client()

    client.post(
        "/accounts/login/", {"login": acme.admin.email, "password": "correct-horse-battery-staple"}
    )

    cookie = client.cookies["sessionid"]
    assert cookie["domain"] == ""
    assert cookie["httponly"] is True


def test_sign_out_ends_the_session(acme):
    client = acme.signed_in()

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert SESSION_KEY not in client.session
    assert client.get("/").status_code == 302


def test_wrong_password_does_not_sign_in(acme):
    client = acme.client()

    response = client.post("/accounts/login/", {"login": acme.admin.email, "password": "nope"})

    assert response.status_code == 200
    assert b"not correct" in response.content
    assert client.get("/").status_code == 302


def test_members_have_the_two_roles(acme):
    with tenant_context(acme.organisation):
        viewer = Member.objects.create_user(email="v@acme.test", password="x" * 12)

    assert acme.admin.role == "admin"
    assert acme.admin.is_admin is True
    assert viewer.role == "viewer"
    assert viewer.is_admin is False


def test_open_sign_up_on_a_portal_is_closed(acme):
    response = Client().get("/accounts/signup/", HTTP_HOST=acme.host)

    assert b"Sign Up Closed" in response.content or response.status_code == 403
