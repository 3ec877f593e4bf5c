"""The host lookup is cached in the shared cache, under keys that carry the schema name,
and each process keeps the hosts it routed lately in front of it."""

from types import SimpleNamespace
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django_tenants.utils import schema_context, tenant_context

from tenants import cache as host_cache
from tenants.cache import forget_local_hosts
from tenants.models import Domain

HOST_KEY = "organisation-host:acme.localhost"


def _domain_queries(context: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in context.captured_queries if "tenants_domain" in q["sql"]]


class _SharedCacheSpy:
    """The shared cache, with each read and write of a host entry noted."""

    def __init__(self, cache_backend, noted: list):
        self._cache = cache_backend
        self._noted = noted

    def _note(self, operation: str, keys) -> None:
        self._noted += [(operation, key) for key in keys if "organisation-host:" in key]

    def get(self, key, *args, **kwargs):
        self._note("get", [key])
        return self._cache.get(key, *args, **kwargs)

    def set(self, key, *args, **kwargs):
        self._note("set", [key])
        return self._cache.set(key, *args, **kwargs)

    def delete_many(self, keys, *args, **kwargs):
        self._note("delete", keys)
        return self._cache.delete_many(keys, *args, **kwargs)


class Captured(CaptureQueriesContext):
    """Database queries, and host entries read or written in the shared cache, whatever
    that cache is (a table, or Redis when `REDIS_URL` is set)."""

    def __enter__(self):
        self.shared = []
        self._spy = mock.patch.object(host_cache, "cache", _SharedCacheSpy(cache, self.shared))
        self._spy.start()
        return super().__enter__()

    def __exit__(self, *exc_info):
        self._spy.stop()
        return super().__exit__(*exc_info)


def _shared_lookups(context: Captured) -> list:
    """Reads and writes of host entries in the shared cache."""
    return context.shared


def _get(host: str):
    return Client().get("/accounts/login/", HTTP_HOST=host)


def test_a_second_request_to_the_same_host_does_not_query_the_domain_table(acme):
    client = acme.client()

    with Captured(connection) as first:
        client.get("/accounts/login/")
    with Captured(connection) as second:
        response = client.get("/accounts/login/")

    assert len(_domain_queries(first)) == 1
    assert _domain_queries(second) == []
    assert response.wsgi_request.tenant.schema_name == "acme"


def test_an_unknown_host_is_remembered_too(acme):
    with Captured(connection) as first:
        acme.client().get("/", HTTP_HOST="nobody.localhost")
    with Captured(connection) as second:
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


# The process-local front -------------------------------------------------------------------


def test_a_routed_host_is_served_again_without_the_shared_cache(acme):
    _get("acme.localhost")

    with Captured(connection) as second:
        response = _get("acme.localhost")

    assert _shared_lookups(second) == []
    assert _domain_queries(second) == []
    assert response.wsgi_request.tenant.schema_name == "acme"


def test_a_process_without_the_host_reads_the_shared_cache_once(acme):
    _get("acme.localhost")
    # As in another process: the shared cache knows the host, this front does not.
    forget_local_hosts()

    with Captured(connection) as first:
        _get("acme.localhost")
    with Captured(connection) as second:
        response = _get("acme.localhost")

    assert len(_shared_lookups(first)) == 1
    assert _domain_queries(first) == []
    assert _shared_lookups(second) == []
    assert response.wsgi_request.tenant.schema_name == "acme"


def test_a_renamed_domain_answers_by_its_new_name_only_at_once(acme):
    domain = Domain.objects.create(
        domain="shop.acme.localhost", tenant=acme.organisation, is_primary=False
    )
    assert _get("shop.acme.localhost").status_code == 200

    domain.domain = "store.acme.localhost"
    domain.save()
    old = _get("shop.acme.localhost")
    new = _get("store.acme.localhost")

    assert old.status_code == 404
    assert new.status_code == 200
    assert new.wsgi_request.tenant.schema_name == "acme"


@override_settings(ORGANISATION_HOST_LOCAL_SECONDS=5)
def test_a_local_entry_is_used_until_its_seconds_are_up(acme, monkeypatch):
    clock = SimpleNamespace(monotonic=lambda: 1000.0)
    monkeypatch.setattr("tenants.cache.time", clock)
    _get("acme.localhost")

    clock.monotonic = lambda: 1004.9
    with Captured(connection) as before_expiry:
        _get("acme.localhost")
    clock.monotonic = lambda: 1005.0
    with Captured(connection) as at_expiry:
        response = _get("acme.localhost")

    assert _shared_lookups(before_expiry) == []
    assert len(_shared_lookups(at_expiry)) == 1
    assert response.wsgi_request.tenant.schema_name == "acme"


@override_settings(ORGANISATION_HOST_LOCAL_SECONDS=5)
def test_another_processs_domain_removal_reaches_this_one_when_the_entry_expires(acme, monkeypatch):
    clock = SimpleNamespace(monotonic=lambda: 1000.0)
    monkeypatch.setattr("tenants.cache.time", clock)
    Domain.objects.create(domain="shop.acme.localhost", tenant=acme.organisation, is_primary=False)
    assert _get("shop.acme.localhost").status_code == 200

    # What another process's removal leaves behind: no row, no shared entry.
    Domain.objects.filter(domain="shop.acme.localhost").delete()
    with schema_context("public"):
        cache.delete("organisation-host:shop.acme.localhost")
    clock.monotonic = lambda: 1004.9
    before_expiry = _get("shop.acme.localhost")
    clock.monotonic = lambda: 1005.0
    at_expiry = _get("shop.acme.localhost")

    assert before_expiry.status_code == 200
    assert at_expiry.status_code == 404


@override_settings(ORGANISATION_HOST_LOCAL_SIZE=2)
def test_at_most_the_configured_number_of_hosts_are_kept_locally(acme, borealis):
    Domain.objects.create(domain="shop.acme.localhost", tenant=acme.organisation, is_primary=False)
    for host in ("acme.localhost", "borealis.localhost", "shop.acme.localhost"):
        _get(host)

    with Captured(connection) as newest:
        _get("shop.acme.localhost")
        _get("borealis.localhost")
    with Captured(connection) as oldest:
        response = _get("acme.localhost")

    assert _shared_lookups(newest) == []
    assert len(_shared_lookups(oldest)) == 1
    assert _domain_queries(oldest) == []
    assert response.wsgi_request.tenant.schema_name == "acme"


@pytest.mark.parametrize(
    "off", [{"ORGANISATION_HOST_LOCAL_SECONDS": 0}, {"ORGANISATION_HOST_LOCAL_SIZE": 0}]
)
def test_zero_seconds_or_size_keeps_nothing_locally(acme, off):
    with override_settings(**off):
        _get("acme.localhost")
        with Captured(connection) as second:
            response = _get("acme.localhost")

    assert response.status_code == 200
    assert len(_shared_lookups(second)) == 1


def test_an_unknown_host_is_not_kept_locally(acme):
    _get("nobody.localhost")

    with Captured(connection) as second:
        response = _get("nobody.localhost")

    assert response.status_code == 404
    assert len(_shared_lookups(second)) == 1
    assert _domain_queries(second) == []


def test_each_request_gets_its_own_copy_of_the_organisation(acme):
    first = _get("acme.localhost")
    first.wsgi_request.tenant.name = "Changed by the first request"
    second = _get("acme.localhost")
    second.wsgi_request.tenant.name = "Changed by the second request"

    third = _get("acme.localhost")

    assert third.wsgi_request.tenant.name == "Acme Corp"
    assert third.wsgi_request.tenant is not second.wsgi_request.tenant


# Cross-tenant ------------------------------------------------------------------------------


def test_a_domain_moved_to_another_organisation_routes_there_at_once(acme, borealis):
    domain = Domain.objects.create(
        domain="shop.localhost", tenant=acme.organisation, is_primary=False
    )
    assert _get("shop.localhost").wsgi_request.tenant.schema_name == "acme"

    domain.tenant = borealis.organisation
    domain.save()
    response = _get("shop.localhost")

    assert response.status_code == 200
    assert response.wsgi_request.tenant.schema_name == "borealis"


def test_hosts_forgotten_in_a_transaction_are_forgotten_again_when_it_commits(
    acme, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        host_cache.forget_hosts(["acme.localhost"])
        # A request routed before the change commits reads the old answer back in.
        host_cache.remember_host("acme.localhost", acme.organisation)
        remembered_meanwhile = host_cache.cached_organisation("acme.localhost")[0]

    assert remembered_meanwhile is True
    assert host_cache.cached_organisation("acme.localhost") == (None, None)
