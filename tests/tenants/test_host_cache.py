"""The host lookup is cached in the shared cache, under keys that carry the schema name."""

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context, tenant_context

HOST_KEY = "organisation-host:acme.localhost"


def _domain_queries(context: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in context.captured_queries if "tenants_domain" in q["sql"]]


def test_a_second_request_to_the_same_host_does_not_query_the_domain_table(acme):
    client = acme.client()

    with CaptureQueriesContext(connection) as first:
        client.get("/accounts/login/")
    with CaptureQueriesContext(connection) as second:
        response = client.get("/accounts/login/")

    assert len(_domain_queries(first)) == 1
    assert _domain_queries(second) == []
    assert response.wsgi_request.tenant.schema_name == "acme"


def test_an_unknown_host_is_remembered_too(acme):
    with CaptureQueriesContext(connection) as first:
        acme.client().get("/", HTTP_HOST="nobody.localhost")
    with CaptureQueriesContext(connection) as second:
        response = acme.client().get("/", HTTP_HOST="nobody.localhost")

    assert len(_domain_queries(first)) == 1
    assert _domain_queries(second) == []
    assert response.status_code == 404


def test_cache_keys_carry_the_schema_name(acme, borealis):
    with tenant_context(acme.organisation):
        cache.set("greeting", "from acme")
        acme_key = cache.make_key("greeting")
    with tenant_context(borealis.organisation):
        seen_on_borealis = cache.get("greeting")
        borealis_key = cache.make_key("greeting")

    assert acme_key == "acme::1:greeting"
    assert borealis_key == "borealis::1:greeting"
    assert seen_on_borealis is None


def test_the_host_lookup_lives_under_the_public_schema(acme):
    acme.client().get("/accounts/login/")

    with schema_context("public"):
        cached_on_public = cache.get(HOST_KEY)
    with tenant_context(acme.organisation):
        cached_inside_acme = cache.get(HOST_KEY)

    assert cached_on_public.schema_name == "acme"
    assert cached_inside_acme is None
