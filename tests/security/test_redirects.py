"""Where sign-in and sign-out may send a member afterwards: this host only."""

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

PASSWORD = "a-long-enough-passphrase"


@pytest.fixture
def acme_password(acme, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with tenant_context(acme.organisation):
        acme.admin.set_password(PASSWORD)
        acme.admin.save()
    return PASSWORD


@pytest.mark.parametrize(
    "target",
    [
        "http://borealis.localhost/",
        "http://borealis.localhost:8000/users/",
        "//borealis.localhost/",
        "https://evil.example/",
        "/\\evil.example/",
    ],
)
def test_sign_in_and_sign_out_never_send_a_member_to_another_host(acme, acme_password, target):
    client = Client(HTTP_HOST=acme.host)

    signed_in = client.post(
        "/accounts/login/",
        {"login": acme.admin.email, "password": acme_password, "next": target},
    )
    signed_out = client.post("/accounts/logout/", {"next": target})

    assert (signed_in.status_code, signed_in["Location"]) == (302, "/")
    assert (signed_out.status_code, signed_out["Location"]) == (302, "/accounts/login/")


def test_sign_in_follows_a_next_on_the_same_host(acme, acme_password):
    client = Client(HTTP_HOST=acme.host)

    relative = client.post(
        "/accounts/login/",
        {"login": acme.admin.email, "password": acme_password, "next": "/purchases/?page=2"},
    )
    client.post("/accounts/logout/")
    absolute = client.post(
        "/accounts/login/",
        {
            "login": acme.admin.email,
            "password": acme_password,
            "next": "http://acme.localhost/users/",
        },
    )

    assert relative["Location"] == "/purchases/?page=2"
    assert absolute["Location"] == "http://acme.localhost/users/"
