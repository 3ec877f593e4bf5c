"""The database backend: a search path set once per organisation, a health check by poll.

`SET search_path` goes through Django's cursor, so query capture sees it.
"""

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from events.models import Customer, Purchase
from tests.events.ingest_support import post_webhook, shopify_install, signed_copy

ACME_PATH = 'SET search_path = "acme","public"'
BOREALIS_PATH = 'SET search_path = "borealis","public"'
PUBLIC_PATH = 'SET search_path = "public"'
SECOND = "second"


class Boom(Exception):
    pass


def _path_settings(context: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in context.captured_queries if q["sql"].startswith("SET search_path")]


def _search_path(wrapper) -> str:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT current_setting('search_path')")
        return cursor.fetchone()[0]


def _backend_pid(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _order_ids(org) -> set[str]:
    with tenant_context(org.organisation):
        return set(Purchase.objects.values_list("order_id", flat=True))


@pytest.fixture
def second(db):
    """Another connection to the test database, in autocommit, outside the test's
    transaction; closed and unregistered afterwards."""
    default = connections[DEFAULT_DB_ALIAS]
    wrapper = type(default)({**default.settings_dict}, SECOND)
    connections[SECOND] = wrapper
    yield wrapper
    wrapper.close()
    del connections[SECOND]


@pytest.fixture
def select_one_checks(monkeypatch) -> list:
    """Connections Django's own health check (`SELECT 1`) ran on."""
    checks = []
    original = PostgresWrapper.is_usable

    def recording(self):
        checks.append(self)
        return original(self)

    monkeypatch.setattr(PostgresWrapper, "is_usable", recording)
    return checks


# Search path ------------------------------------------------------------------------------


def test_a_second_request_to_the_same_organisation_sets_no_search_path(acme):
    shop = shopify_install(acme)
    first_body, first_headers = signed_copy("orders-paid", id=1)
    second_body, second_headers = signed_copy("orders-paid", id=2)

    with CaptureQueriesContext(connection) as first:
        post_webhook(acme.client(), shop, first_body, first_headers)
    with CaptureQueriesContext(connection) as again:
        response = post_webhook(acme.client(), shop, second_body, second_headers)

    assert response.json() == {"status": "recorded"}
    assert _path_settings(first) == [PUBLIC_PATH, ACME_PATH]
    assert _path_settings(again) == []
    assert _order_ids(acme) == {"1", "2"}


def test_alternating_organisations_each_write_to_their_own_schema(acme, borealis):
    acme_shop = shopify_install(acme)
    borealis_shop = shopify_install(borealis)
    expected, observed = [], []

    # Past psycopg's prepare threshold, so prepared statements serve both schemas.
    for round_ in range(7):
        for org, shop, path, first_id in (
            (acme, acme_shop, ACME_PATH, 100),
            (borealis, borealis_shop, BOREALIS_PATH, 200),
        ):
            body, headers = signed_copy("orders-paid", id=first_id + round_)
            with CaptureQueriesContext(connection) as request:
                post_webhook(org.client(), shop, body, headers)
            if round_ > 0:
                expected.append([path])
                observed.append(_path_settings(request))

    # Once the hosts are routed, each switch is one SET for the organisation switched to.
    assert observed == expected
    assert _order_ids(acme) == {str(100 + n) for n in range(7)}
    assert _order_ids(borealis) == {str(200 + n) for n in range(7)}


def test_a_rolled_back_transaction_that_switched_organisation_sets_the_path_again(
    acme, borealis, second
):
    second.set_tenant(acme.organisation)
    assert _search_path(second) == "acme, public"

    with pytest.raises(Boom), transaction.atomic(using=SECOND):
        second.set_tenant(borealis.organisation)
        assert _search_path(second) == "borealis, public"
        raise Boom
    with CaptureQueriesContext(second) as after:
        path = _search_path(second)

    assert path == "borealis, public"
    assert _path_settings(after) == [BOREALIS_PATH]


# Health check -----------------------------------------------------------------------------


def test_a_quiet_connection_is_usable_without_a_select_1(second, select_one_checks):
    pid = _backend_pid(second)

    # As at the start of a request: the next query checks the connection first.
    second.close_if_unusable_or_obsolete()
    usable = second.is_usable()
    pid_after = _backend_pid(second)

    assert usable is True
    assert pid_after == pid
    assert select_one_checks == []


def test_a_connection_the_server_ended_is_not_usable_and_is_replaced(second, select_one_checks):
    pid = _backend_pid(second)
    settings = second.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"],
        autocommit=True,
    ) as admin:
        # With a timeout, it returns once the session has actually ended.
        ended = admin.execute("SELECT pg_terminate_backend(%s, 60000)", [pid]).fetchone()[0]

    usable = second.is_usable()
    second.close_if_unusable_or_obsolete()
    pid_after = _backend_pid(second)

    assert ended is True
    assert usable is False
    assert select_one_checks == [second]
    assert pid_after != pid


def test_a_rolled_back_savepoint_that_switched_organisation_sets_the_path_again(acme, borealis):
    connection.set_tenant(acme.organisation)
    assert _search_path(connection) == "acme, public"

    # Inside the test's transaction this block is a savepoint.
    with pytest.raises(Boom), transaction.atomic():
        connection.set_tenant(borealis.organisation)
        assert _search_path(connection) == "borealis, public"
        raise Boom
    path = _search_path(connection)

    assert path == "borealis, public"


def test_a_row_written_after_a_rolled_back_savepoint_lands_in_the_current_organisation(
    acme, borealis
):
    connection.set_tenant(acme.organisation)
    assert _search_path(connection) == "acme, public"
    with pytest.raises(Boom), transaction.atomic():
        connection.set_tenant(borealis.organisation)
        Customer.objects.count()
        raise Boom

    Customer.objects.create(email="meant-for-borealis@example.com")

    found = {}
    with connection.cursor() as cursor:
        for schema in ("acme", "borealis"):
            # Named outright: the connection's own idea of its path is what is in doubt.
            cursor.execute(
                f'SELECT count(*) FROM "{schema}".{Customer._meta.db_table} WHERE email = %s',
                ["meant-for-borealis@example.com"],
            )
            found[schema] = cursor.fetchone()[0]
    in_acme, in_borealis = found["acme"], found["borealis"]
    assert (in_borealis, in_acme) == (1, 0)


# The server-binding cursor ----------------------------------------------------------------


def test_a_connection_keeps_one_server_binding_cursor_until_it_closes(second):
    second.set_schema_to_public()

    first = second.server_binding_cursor(second.make_cursor)
    first.execute("SELECT %s::int", [1])
    again = second.server_binding_cursor(second.make_cursor)
    again.execute("SELECT %s::int", [2])
    answered = again.fetchone()
    second.close()
    fresh = second.server_binding_cursor(second.make_cursor)
    fresh.execute("SELECT %s::int", [3])

    assert again.cursor is first.cursor
    assert answered == (2,)
    assert fresh.cursor is not first.cursor
    assert fresh.fetchone() == (3,)
    assert isinstance(fresh.cursor, psycopg.Cursor)
