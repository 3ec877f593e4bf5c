"""Shared fixtures: two organisations, `acme` and `borealis`, each with an admin.

The organisations are provisioned once per session. Tests run inside a transaction
(pytest-django's `db`), so rows they write vanish; schemas do not roll back, so a test
that provisions an organisation must delete it (see `provisioned`). After every test
the connection is back on the public schema (CASES C12).

Transactional tests (`transactional_db`, `live_server`) end with a flush that empties
the public tables, the public organisation, its domain and the base schema's row
included; after such a test the hook below restores those rows and re-provisions
`acme` and `borealis`, so later tests find them whatever the order.
"""

import importlib
import os
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings
from django_tenants.utils import schema_context, tenant_context

from accounts.actors import Actor
from accounts.models import Member
from catalog_integrations.sources import forget_ingest_sources
from tenants.cache import forget_local_hosts
from tenants.models import Organisation
from tenants.services import organisation_create, organisation_delete

PASSWORD = "correct-horse-battery-staple"


@dataclass
class Org:
    organisation: Organisation
    admin: Member
    host: str

    @property
    def slug(self) -> str:
        return self.organisation.slug

    def client(self) -> Client:
        """A fresh, anonymous client for this organisation's host."""
        return Client(HTTP_HOST=self.host)

    def signed_in(self, member: Member | None = None) -> Client:
        client = self.client()
        with tenant_context(self.organisation):
            client.force_login(member or self.admin)
        return client


def _ensure_organisation(slug: str, name: str) -> Org:
    email = f"admin@{slug}.test"
    organisation = Organisation.objects.filter(slug=slug).first()
    if organisation is None:
        with schema_context("public"), connection.cursor() as cursor:
            # A transactional test may have flushed the row but not the schema.
            cursor.execute(f'DROP SCHEMA IF EXISTS "{slug}" CASCADE')
        organisation = organisation_create(
            slug=slug,
            name=name,
            admin_email=email,
            admin_password=PASSWORD,
            actor=Actor.system("tests"),
        ).organisation
    with tenant_context(organisation):
        admin = Member.objects.get(email=email)
    connection.set_schema_to_public()
    return Org(organisation, admin, f"{slug}.localhost")


def _ensure_session_organisations() -> None:
    _ensure_organisation("acme", "Acme Corp")
    _ensure_organisation("borealis", "Borealis Ltd")


def _restore_after_flush() -> None:
    """Put back what migrations created and a flush removed, then the two organisations."""
    if Organisation.objects.filter(schema_name="public").exists():
        return
    migration = importlib.import_module("tenants.migrations.0002_public_and_base_schema")
    with connection.schema_editor() as editor:
        migration.create_public_and_base(apps, editor)
    _ensure_session_organisations()


_DB_BLOCKER = pytest.StashKey()


@pytest.fixture(scope="session")
def django_db_setup(request, django_db_setup, django_db_blocker):
    request.config.stash[_DB_BLOCKER] = django_db_blocker
    with django_db_blocker.unblock():
        _ensure_session_organisations()
    yield


def _flushes_tables(item) -> bool:
    marker = item.get_closest_marker("django_db")
    transactional_marker = bool(marker and marker.kwargs.get("transaction"))
    fixtures = set(getattr(item, "fixturenames", ()))
    return transactional_marker or bool(fixtures & {"transactional_db", "live_server"})


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    try:
        return (yield)
    finally:
        blocker = item.config.stash.get(_DB_BLOCKER, None)
        # With no next test the session's teardown has already dropped the database.
        if blocker is not None and nextitem is not None and _flushes_tables(item):
            with blocker.unblock():
                _restore_after_flush()
                connection.set_schema_to_public()


@pytest.fixture
def acme(db) -> Org:
    return _ensure_organisation("acme", "Acme Corp")


@pytest.fixture
def borealis(db) -> Org:
    return _ensure_organisation("borealis", "Borealis Ltd")


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """A sign-in or a new member costs about 0.25 s with the real hasher; tests need none of it."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _public_schema_after_each_test():
    yield
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate limits and host lookups from one test never leak into the next."""
    forget_local_hosts()
    forget_ingest_sources()
    try:
        cache.clear()
    except Exception:  # noqa: S110 - the cache table may not exist before db set-up
        pass
    yield


@pytest.fixture
def provisioned(db):
    """Organisations a test creates itself; deleted with their schemas afterwards."""
    created: list[str] = []
    yield created
    for slug in created:
        organisation = Organisation.objects.filter(slug=slug).first()
        if organisation:
            organisation_delete(organisation=organisation, actor=Actor.system("tests"))
    connection.set_schema_to_public()


def pytest_configure(config):
    # Playwright's sync API runs an event loop in the test thread; the ORM calls that
    # fixtures make there are still synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
