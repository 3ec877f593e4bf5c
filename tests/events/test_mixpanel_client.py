"""The Mixpanel client against a fake Mixpanel on loopback: the event, auth, limits, answers."""

import json
import socket
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from catalog_integrations.crypto import encrypt_secrets
from catalog_integrations.mixpanel import client as mixpanel_client
from catalog_integrations.mixpanel.client import MixpanelClient, build_client, decimal_text
from catalog_integrations.mixpanel.receiver import Reply
from catalog_integrations.models import Installation
from events.models import Delivery, Purchase
from events.outcomes import SendOutcome

from .dispatch_support import sample_reply

HAPPENED = datetime(2024, 3, 1, 12, 30, 15, 123000, tzinfo=UTC)


def _destination(receiver, **secrets) -> Installation:
    config = {"project_token": "tok-1", "region": "us", "api_host": receiver.url}
    if "service_account_secret" in secrets:
        config.update(service_account_username="sa.name", project_id="4242")
    return Installation(
        integration="mixpanel",
        name="Mixpanel",
        config=config,
        secrets_encrypted=encrypt_secrets(secrets or {"api_secret": "s3cret"}),
    )


SOURCE = Installation(integration="shopify", name="Shop")


def _delivery(n: int = 1, *, kind="purchase", amount="19.990000", **purchase) -> Delivery:
    purchase = Purchase(
        installation=SOURCE,
        kind=kind,
        dedupe_key=str(n),
        order_id=str(5000 + n),
        amount=Decimal(amount),
        currency="EUR",
        occurred_at=HAPPENED,
        **purchase,
    )
    return Delivery(
        purchase=purchase,
        insert_id=f"00000000-0000-0000-0000-{n:012d}",
        distinct_id=f"user-{n}",
        event_time=HAPPENED,
    )


def _send(receiver, deliveries, **secrets):
    return build_client(_destination(receiver, **secrets)).send(deliveries)


def test_a_purchase_becomes_exactly_the_documented_event(receiver):
    delivery = _delivery(
        amount="1234567890.123450",
        presentment_amount=Decimal("1500.000000"),
        presentment_currency="USD",
        items=[{"sku": "MUG-1", "name": "Mug", "quantity": 2, "price": "617283945.061725"}],
        properties={"channel": "web", "token": "must-not-win"},
    )

    [result] = _send(receiver, [delivery])

    assert result.outcome == SendOutcome.DELIVERED
    raw = receiver.state.requests[0].body.decode()
    assert '"amount":1234567890.12345,' in raw
    assert '"price":617283945.061725}' in raw
    [event] = json.loads(raw, parse_float=Decimal)
    assert event == {
        "event": "Purchase",
        "properties": {
            "channel": "web",
            "token": "tok-1",
            "distinct_id": "user-1",
            "time": 1709296215123,
            "$insert_id": "00000000-0000-0000-0000-000000000001",
            "ip": 0,
            "amount": Decimal("1234567890.12345"),
            "currency": "EUR",
            "order_id": "5001",
            "source": "shopify",
            "installation_id": str(SOURCE.pk),
            "items": [
                {"sku": "MUG-1", "name": "Mug", "quantity": 2, "price": Decimal("617283945.061725")}
            ],
            "presentment_amount": Decimal("1500"),
            "presentment_currency": "USD",
        },
    }


@pytest.mark.parametrize("stored", ["-5.500000", "5.500000"])
def test_a_refund_is_a_refund_event_with_a_negative_amount(receiver, stored):
    _send(receiver, [_delivery(kind="refund", amount=stored)])

    [event] = receiver.state.requests[0].events
    assert event["event"] == "Refund"
    assert '"amount":-5.5,' in receiver.state.requests[0].body.decode()


@pytest.mark.parametrize(
    "value, text",
    [
        ("19.990000", "19.99"),
        ("100.000000", "100"),
        ("-0.000000", "0"),
        ("0.000001", "0.000001"),
        ("99999999999999.999999", "99999999999999.999999"),
        ("1E+3", "1000"),
    ],
)
def test_amounts_are_written_exactly_from_the_decimal(value, text):
    assert decimal_text(Decimal(value)) == text


def test_an_api_secret_is_the_user_name_with_an_empty_password(receiver):
    _send(receiver, [_delivery()])

    [request] = receiver.state.requests
    assert request.auth == ("s3cret", "")
    assert request.query == {"strict": ["1"]}
    assert request.path == "/import"
    assert request.headers["content-encoding"] == "gzip"
    assert request.headers["content-type"] == "application/json"


def test_a_service_account_sends_its_name_and_secret_and_the_project_id(receiver):
    _send(receiver, [_delivery()], service_account_secret="sa-secret")

    [request] = receiver.state.requests
    assert request.auth == ("sa.name", "sa-secret")
    assert request.query == {"strict": ["1"], "project_id": ["4242"]}


def test_batches_hold_at_most_two_thousand_events(receiver):
    results = _send(receiver, [_delivery(n) for n in range(2001)])

    assert [len(r.events) for r in receiver.state.requests] == [2000, 1]
    assert {r.outcome for r in results} == {SendOutcome.DELIVERED}
    assert len(results) == 2001


def test_batches_hold_at_most_two_megabytes_before_gzip(receiver):
    big = {"note": "x" * 700_000}

    results = _send(receiver, [_delivery(n, properties=big) for n in range(4)])

    sizes = [r.raw_size for r in receiver.state.requests]
    assert [len(r.events) for r in receiver.state.requests] == [2, 2]
    assert all(size <= 2 * 1024 * 1024 for size in sizes)
    assert [r.outcome for r in results] == [SendOutcome.DELIVERED] * 4


@pytest.mark.parametrize(
    "reply, outcome, error",
    [
        (
            sample_reply("401"),
            SendOutcome.UNAUTHORIZED,
            "Mixpanel refused the credentials (HTTP 401): Invalid credentials",
        ),
        (
            Reply(403, {"error": "forbidden"}),
            SendOutcome.UNAUTHORIZED,
            "Mixpanel refused the credentials (HTTP 403): forbidden",
        ),
        (
            sample_reply("413"),
            SendOutcome.REJECTED,
            "The event is larger than Mixpanel accepts (HTTP 413): "
            "request exceeds max limit of 2097152 bytes",
        ),
        (
            Reply(503, {"error": "unavailable"}),
            SendOutcome.RETRY,
            "Mixpanel answered HTTP 503: unavailable",
        ),
        (
            Reply(400, {"error": "bad body", "status": "Bad Request"}),
            SendOutcome.RETRY,
            "Mixpanel answered HTTP 400: bad body",
        ),
    ],
)
def test_answers_become_outcomes(receiver, reply, outcome, error):
    receiver.respond = lambda request, state: reply

    [result] = _send(receiver, [_delivery()])

    assert (result.outcome, result.status_code, result.error) == (outcome, reply.status, error)
    assert result.response_excerpt == json.dumps(reply.body)


def test_a_429_backs_off_at_least_as_long_as_mixpanel_asks(receiver):
    reply = sample_reply("429")
    reply.headers["Retry-After"] = "30"
    receiver.respond = lambda request, state: reply

    [result] = _send(receiver, [_delivery()])

    assert (result.outcome, result.status_code, result.retry_after) == (
        SendOutcome.RETRY,
        429,
        30.0,
    )


def test_a_host_that_hangs_past_the_timeout_means_retry(receiver, monkeypatch):
    monkeypatch.setattr(mixpanel_client, "READ_TIMEOUT_SECONDS", 0.1)
    receiver.respond = lambda request, state: Reply(200, {"status": "OK"}, delay=0.5)

    [result] = _send(receiver, [_delivery()])

    assert (result.outcome, result.status_code) == (SendOutcome.RETRY, None)
    assert result.error == "Mixpanel did not answer within 0.1 s (timeout)."


def test_a_host_that_refuses_connections_means_retry(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings.MIXPANEL_CUSTOM_HOSTS = [url]
    destination = Installation(
        integration="mixpanel",
        name="Mixpanel",
        config={"project_token": "t", "api_host": url},
        secrets_encrypted=encrypt_secrets({"api_secret": "s"}),
    )

    [result] = MixpanelClient(destination).send([_delivery()])

    assert result.outcome == SendOutcome.RETRY
    assert result.error == f"Could not reach {url}: ConnectError."


@pytest.mark.parametrize("key", ["insert_id", "$insert_id"])
def test_a_400_naming_failed_records_rejects_those_and_delivers_the_rest(receiver, key):
    deliveries = [_delivery(n) for n in (1, 2, 3)]
    record = {
        "index": 2,
        key: deliveries[2].insert_id,
        "field": "properties.time",
        "message": "bad",
    }
    receiver.respond = lambda request, state: Reply(
        400, {"code": 400, "error": "some failed", "failed_records": [record]}
    )

    results = _send(receiver, deliveries)

    assert [(r.outcome, r.error) for r in results] == [
        (SendOutcome.DELIVERED, ""),
        (SendOutcome.DELIVERED, ""),
        (SendOutcome.REJECTED, "Mixpanel rejected the event: properties.time: bad"),
    ]


def test_a_400_with_records_named_only_by_position_rejects_those_positions(receiver):
    deliveries = [_delivery(n) for n in (1, 2)]
    receiver.respond = lambda request, state: Reply(
        400, {"failed_records": [{"index": 0, "message": "no time"}]}
    )

    results = _send(receiver, deliveries)

    assert [r.outcome for r in results] == [SendOutcome.REJECTED, SendOutcome.DELIVERED]


def test_a_secret_never_appears_in_results(receiver):
    receiver.respond = lambda request, state: sample_reply("401")

    [result] = _send(receiver, [_delivery()])

    assert "s3cret" not in repr(result)


def test_the_development_receiver_shows_what_it_accepted(receiver):
    _send(receiver, [_delivery(7)])

    page = httpx.get(f"{receiver.url}/", timeout=5)
    listed = httpx.get(f"{receiver.url}/events.json", timeout=5).json()

    assert page.status_code == 200
    assert "00000000-0000-0000-0000-000000000007" in page.text
    assert "1 events accepted in 1 requests" in page.text
    assert [e["properties"]["$insert_id"] for e in listed] == [
        "00000000-0000-0000-0000-000000000007"
    ]
