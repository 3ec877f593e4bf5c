"""`/api/` routes skip the browser's middleware; the portal and `/o/` keep it."""

from django.test import Client

from tests.events.test_shopify_ingest import post_sample, shopify_install


def test_an_api_request_gets_no_session_user_messages_or_framing_rules(acme):
    shop = shopify_install(acme)

    response = post_sample(acme.client(), shop, "orders-paid")

    request = response.wsgi_request
    assert response.status_code == 200
    assert not hasattr(request, "session")
    assert not hasattr(request, "user")
    assert not hasattr(request, "_messages")
    assert not hasattr(request, "htmx")
    assert "X-Frame-Options" not in response.headers
    assert "Set-Cookie" not in response.headers


def test_a_portal_request_keeps_session_user_and_framing_rules(acme):
    response = acme.signed_in().get("/")

    request = response.wsgi_request
    assert response.status_code == 200
    assert request.user.email == "admin@acme.test"
    assert request.session.session_key is not None
    assert hasattr(request, "_messages")
    assert request.htmx is not None
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_portal_still_refuses_a_post_without_a_csrf_token(acme):
    client = Client(HTTP_HOST=acme.host, enforce_csrf_checks=True)

    response = client.post("/accounts/login/", {"login": "admin@acme.test", "password": "x"})

    assert response.status_code == 403


def test_the_token_endpoint_keeps_the_user_middleware(acme):
    response = acme.client().post("/o/token/", {"grant_type": "client_credentials"})

    assert response.status_code == 401
    assert response.wsgi_request.user.is_anonymous
