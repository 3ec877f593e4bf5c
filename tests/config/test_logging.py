"""Structured logs: each line a request causes names the request and its organisation."""

import json
import logging

import pytest
from django.test import Client

from config.logging import ContextFilter, JsonFormatter


class _Collecting(logging.Handler):
    """A handler set up like the product's: the context filter decides the extra fields."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.addFilter(ContextFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def records(caplog):
    caplog.set_level(logging.DEBUG, logger="tenants.middleware")
    caplog.set_level(logging.WARNING, logger="django.request")
    handler = _Collecting()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.records
    root.removeHandler(handler)


def _named(records, message: str) -> logging.LogRecord:
    return next(r for r in records if r.getMessage().startswith(message))


def test_a_requests_log_records_carry_its_request_id_and_organisation(acme, records):
    response = acme.client().get("/accounts/login/", HTTP_X_REQUEST_ID="req-123")

    record = _named(records, "request_finished")
    assert response["X-Request-Id"] == "req-123"
    assert (record.request_id, record.organisation) == ("req-123", "acme")
    assert (record.method, record.path, record.status) == ("GET", "/accounts/login/", 200)


def test_the_json_formatter_writes_the_request_id_and_organisation(acme, records):
    acme.client().get("/accounts/login/", HTTP_X_REQUEST_ID="req-456")

    entry = json.loads(JsonFormatter().format(_named(records, "request_finished")))

    assert entry["event"] == "request_finished"
    assert entry["level"] == "debug"
    assert entry["logger"] == "tenants.middleware"
    assert entry["request_id"] == "req-456"
    assert entry["organisation"] == "acme"
    assert entry["status"] == 200
    assert entry["path"] == "/accounts/login/"


def test_djangos_own_line_for_a_404_names_the_request(acme, records):
    acme.client().get("/no-such-page/", HTTP_X_REQUEST_ID="req-404")

    record = _named(records, "Not Found: /no-such-page/")

    assert (record.request_id, record.organisation) == ("req-404", "acme")


def test_the_public_site_logs_as_public_and_unknown_hosts_as_none(acme, records):
    Client().get("/", HTTP_HOST="localhost", HTTP_X_REQUEST_ID="req-public")
    Client().get("/", HTTP_HOST="nobody.localhost", HTTP_X_REQUEST_ID="req-nobody")

    finished = {
        r.request_id: r.organisation for r in records if r.getMessage() == "request_finished"
    }
    assert finished == {"req-public": "public", "req-nobody": None}


def test_lines_after_the_request_carry_no_request_context(acme, records):
    acme.client().get("/accounts/login/", HTTP_X_REQUEST_ID="req-over")

    logging.getLogger("tenants.middleware").warning("after_the_request")

    record = _named(records, "after_the_request")
    assert (record.request_id, record.organisation) == (None, None)


def test_every_response_gets_a_request_id(acme):
    response = acme.client().get("/accounts/login/")
    unknown = Client().get("/", HTTP_HOST="nobody.localhost")

    assert len(response["X-Request-Id"]) == 32
    assert len(unknown["X-Request-Id"]) == 32
    assert response["X-Request-Id"] != unknown["X-Request-Id"]


@pytest.mark.parametrize("incoming", ["x" * 65, "bad\nid"])
def test_an_unusable_incoming_request_id_is_replaced(acme, incoming):
    response = acme.client().get("/accounts/login/", HTTP_X_REQUEST_ID=incoming)

    assert response["X-Request-Id"] != incoming
    assert len(response["X-Request-Id"]) == 32
