"""A cache or database that is briefly away: the sender is told to retry, never a 500."""

import pytest
from django.db import OperationalError
from django.test import Client

from tenants.middleware import OrganisationMiddleware

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        # Nothing listens on port 1: every cache call fails to connect.
        "LOCATION": "redis://127.0.0.1:1/0",
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


@pytest.fixture
def redis_away(settings):
    settings.CACHES = UNREACHABLE_REDIS


def test_an_unreachable_cache_still_routes_by_the_database(acme, redis_away):
    response = Client().get("/accounts/login/", HTTP_HOST=acme.host)

    assert response.status_code == 200
    assert response.wsgi_request.tenant.schema_name == "acme"


def test_an_unreachable_cache_still_answers_unknown_hosts_with_404(acme, redis_away):
    response = Client().get("/accounts/login/", HTTP_HOST="nobody.localhost")

    assert response.status_code == 404


def _database_away(self, domain_model, hostname):
    raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")


def test_a_database_outage_during_routing_is_a_503_with_retry_after(acme, monkeypatch):
    monkeypatch.setattr(OrganisationMiddleware, "get_tenant", _database_away)
    client = Client(raise_request_exception=False)

    response = client.post(
        "/api/v1/integrations/shopify/00000000-0000-0000-0000-000000000000/webhooks",
        data=b"{}",
        content_type="application/json",
        HTTP_HOST=acme.host,
    )

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "detail": "The service is briefly unavailable; try again.",
        "code": "unavailable",
    }


def test_a_database_outage_inside_an_api_operation_is_a_503(rf):
    from config.api import _unexpected

    request = rf.get("/api/v1/purchases")

    response = _unexpected(request, OperationalError("server closed the connection"))

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.content == (
        b'{"detail": "The service is briefly unavailable; try again.", "code": "unavailable"}'
    )


def test_any_other_error_inside_an_api_operation_stays_a_500(rf):
    from config.api import _unexpected

    response = _unexpected(rf.get("/api/v1/purchases"), ValueError("bug"))

    assert response.status_code == 500
    assert response.content == b'{"detail": "Internal error.", "code": "internal_error"}'
