"""Every portal route refuses a signed-in admin's POST that carries no CSRF token.

The routes are walked from the organisation host's URL configuration, so a page added
later is covered too; only the token-authenticated `/api/` and `/o/` routes are exempt.
"""

import re
import uuid

from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from django_tenants.utils import tenant_context

from accounts.models import AuditEntry

_CONVERTER = re.compile(r"<(?:(\w+):)?\w+>")
_VALUES = {"uuid": str(uuid.UUID(int=1)), "int": "1"}


def _paths(patterns, prefix: str = "") -> list[str]:
    found = []
    for entry in patterns:
        if not isinstance(entry.pattern, RoutePattern):
            continue  # allauth's few regex routes take keys, not state-changing posts
        route = _CONVERTER.sub(lambda m: _VALUES.get(m.group(1), "x"), str(entry.pattern))
        if isinstance(entry, URLResolver):
            found += _paths(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            found.append("/" + prefix + route)
    return found


def _portal_paths() -> list[str]:
    paths = _paths(get_resolver("config.urls").url_patterns)
    return sorted({p for p in paths if not p.startswith(("/api/", "/o/"))})


def test_the_walk_covers_the_portals_change_routes():
    paths = _portal_paths()

    for expected in (
        "/integrations/x/install/",
        f"/integrations/installations/{_VALUES['uuid']}/rotate/",
        f"/deliveries/{_VALUES['uuid']}/retry/",
        f"/held/{_VALUES['uuid']}/link/",
        "/team/invite/",
        "/api-clients/new/",
        "/accounts/logout/",
    ):
        assert expected in paths


def test_every_portal_route_refuses_a_post_without_a_csrf_token(acme):
    client = Client(HTTP_HOST=acme.host, enforce_csrf_checks=True)
    with tenant_context(acme.organisation):
        client.force_login(acme.admin)
        audited = AuditEntry.objects.count()

    answers = {path: client.post(path, {"name": "x"}).status_code for path in _portal_paths()}

    assert {path: status for path, status in answers.items() if status != 403} == {}
    with tenant_context(acme.organisation):
        assert AuditEntry.objects.count() == audited
