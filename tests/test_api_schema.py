"""A property-based run of the API's own OpenAPI description (schemathesis).

Every operation in `/api/v1/openapi.json` gets generated requests with a real token of
every scope, through the WSGI application on `acme`'s host. No answer may be a 500,
use a status the operation does not document, or break its documented schema.
"""

import uuid

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.strategies import booleans
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from catalog_integrations.registry import get_integration
from events.models import Customer, Identity
from tests.accounts.factories import api_credentials
from tests.events.users_support import installation

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Bounded: the whole run stays within seconds.
EXAMPLES_PER_OPERATION = 25


def _test_only(operation) -> bool:
    """Routes of the test-only integration packages (settings.EXTRA_INTEGRATIONS)."""
    prefix = "/api/v1/integrations/"
    if not operation.path.startswith(prefix):
        return False
    integration = get_integration(operation.path.removeprefix(prefix).split("/")[0])
    return integration is not None and integration.package in django_settings.EXTRA_INTEGRATIONS


@pytest.fixture
def wsgi_app_on(db):
    """The real WSGI application, pinned to one host, inside the test's transaction.

    Django closes old connections around each request; the test client keeps them open
    (else the test's transaction and its rows would go), and so does this, per request.
    """
    django_app = get_wsgi_application()

    def pinned(host):
        def app(environ, start_response):
            environ["HTTP_HOST"] = host
            request_started.disconnect(close_old_connections)
            request_finished.disconnect(close_old_connections)
            try:
                response = django_app(environ, start_response)
                body = b"".join(response)
                response.close()
            finally:
                request_started.connect(close_old_connections)
                request_finished.connect(close_old_connections)
            return [body]

        return app

    return pinned


def _with_real_ids(case, *, installation_id: str, user_id: str) -> None:
    """Point generated ids at rows that exist, so the success paths are exercised too.

    Random UUIDs only ever meet 404 and 422; the ids put here are still valid input.
    """
    if "user_id" in (case.path_parameters or {}):
        case.path_parameters["user_id"] = user_id
    if isinstance(case.query, dict) and "installation_id" in case.query:
        case.query["installation_id"] = installation_id
    body = case.body if isinstance(case.body, dict) else {}
    users = body.get("users") if isinstance(body.get("users"), list) else [body]
    for user in users:
        identities = user.get("identities") if isinstance(user, dict) else None
        for identity in identities if isinstance(identities, list) else []:
            if isinstance(identity, dict) and "installation_id" in identity:
                identity["installation_id"] = installation_id


def _new_user(org, installation_id) -> str:
    with tenant_context(org.organisation):
        customer = Customer.objects.create(email=f"{uuid.uuid4().hex}@example.com")
        Identity.objects.create(
            customer=customer, installation_id=installation_id, external_id=uuid.uuid4().hex
        )
    return str(customer.pk)


def test_the_api_answers_generated_requests_without_500_and_within_its_schema(acme, wsgi_app_on):
    shop = installation(acme)
    token = api_credentials(acme).token
    raw = acme.client().get("/api/v1/openapi.json").json()
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = wsgi_app_on(acme.host)
    operations = [
        op for op in (result.ok() for result in schema.get_all_operations()) if not _test_only(op)
    ]

    for operation in operations:

        @given(case=operation.as_strategy(), real_ids=booleans())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case, real_ids):
            if real_ids:
                user_id = _new_user(acme, shop.pk)
                _with_real_ids(case, installation_id=str(shop.pk), user_id=user_id)
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            case.validate_response(response, checks=CHECKS)

        check()

    assert {op.label for op in operations} >= {
        "GET /api/v1/users",
        "POST /api/v1/users",
        "POST /api/v1/users/bulk",
        "GET /api/v1/users/{user_id}",
        "PATCH /api/v1/users/{user_id}",
        "DELETE /api/v1/users/{user_id}",
    }
