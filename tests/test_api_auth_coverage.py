"""Every route under /api/v1/ refuses a caller without credentials (CASES C05, C02).

The routes come from walking the URL resolver, not from a list: a route added anywhere
(an app's router, an integration package's router) is checked without touching this file.
Three categories:

- open by design (the explicit allow-list below): the API's description and root;
- ingest routes under `integrations/<key>/`: they authenticate with a signature or an
  installation key, never a bearer token, and never answer 2xx without it;
- everything else: 401 in the API's error body.
"""

import asyncio
import re
import uuid

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import tenant_context

from catalog_integrations.models import Installation

API_PREFIX = "api/v1/"
# Open by design, with what they may answer: the description, and ninja's root (a
# redirect to the docs in development, else 404).
OPEN_ROUTES = {
    "api/v1/docs": {200},
    "api/v1/openapi.json": {200},
    "api/v1/": {302, 404},
}
INGEST_PREFIX = "api/v1/integrations/"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def api_routes() -> dict[str, URLPattern]:
    resolver = get_resolver(settings.ROOT_URLCONF)
    return {route: p for route, p in _walk(resolver.url_patterns) if route.startswith(API_PREFIX)}


def _path(route: str, values: dict[str, str]) -> str:
    def fill(match):
        return values.get(match["name"], str(uuid.uuid4()))

    return "/" + PARAMETER.sub(fill, route.lstrip("^").rstrip("$"))


def _methods(client, path: str) -> list[str]:
    """The methods a route serves: ninja answers others with 405 and an Allow header."""
    probe = client.options(path)
    if probe.status_code == 405 and probe.has_header("Allow"):
        return sorted(m.strip() for m in probe["Allow"].split(",") if m.strip())
    return METHODS + ["OPTIONS"]


def _call(client, method: str, path: str):
    return client.generic(method, path, b"{}", content_type="application/json")


def test_the_walk_finds_the_users_routes_and_the_open_ones():
    routes = set(api_routes())

    assert set(OPEN_ROUTES) <= routes
    assert {"api/v1/users", "api/v1/users/bulk", "api/v1/users/<user_id>"} <= routes


def test_every_api_route_without_credentials_is_401_except_the_open_ones(acme):
    client = acme.client()
    checked = []

    for route in sorted(api_routes()):
        if route in OPEN_ROUTES or route.startswith(INGEST_PREFIX):
            continue
        path = _path(route, {})
        for method in _methods(client, path):
            response = _call(client, method, path)
            checked.append((method, route, response.status_code))
            if response.status_code == 405:
                continue
            assert response.status_code == 401, (method, route, response.status_code)
            assert response.json() == {
                "detail": "A valid access token is required.",
                "code": "not_authenticated",
            }, (method, route)

    assert ("GET", "api/v1/users", 401) in checked
    assert ("POST", "api/v1/users/bulk", 401) in checked
    assert ("DELETE", "api/v1/users/<user_id>", 401) in checked


def test_ingest_routes_never_answer_2xx_without_a_signature_or_key(acme):
    client = acme.client()
    ingest = sorted(r for r in api_routes() if r.startswith(INGEST_PREFIX))
    installations = {}
    with tenant_context(acme.organisation):
        for route in ingest:
            key = route.removeprefix(INGEST_PREFIX).split("/")[0]
            if key not in installations:
                installations[key] = Installation.objects.create(integration=key, name=key).pk

    for route in ingest:
        key = route.removeprefix(INGEST_PREFIX).split("/")[0]
        existing = _path(route, {"installation_id": str(installations[key])})
        unknown = _path(route, {})
        for method in _methods(client, existing):
            known_response = _call(client, method, existing)
            unknown_response = _call(client, method, unknown)
            if known_response.status_code == 405:
                continue
            assert known_response.status_code in (401, 403), (method, route)
            assert 400 <= unknown_response.status_code < 500, (method, route)


def test_the_open_routes_answer_without_credentials(acme):
    client = acme.client()

    for route, statuses in OPEN_ROUTES.items():
        assert client.get("/" + route).status_code in statuses, route


def test_every_api_route_is_synchronous():
    # CASES C02: with no async endpoint, no ORM work leaves the request's thread and its
    # schema; a new async route fails here and needs its own tenancy test.
    for route, pattern in api_routes().items():
        assert not asyncio.iscoroutinefunction(pattern.callback), route


@pytest.mark.parametrize("host", ["nobody.localhost", "localhost"])
def test_the_api_is_not_served_off_an_organisation_host(host, acme):
    response = acme.client().get("/api/v1/users", HTTP_HOST=host)

    assert response.status_code == 404
