"""Credentials never reach a log line, even with the root logger at DEBUG."""

import logging

from django.test import Client

from tests.accounts.factories import FAST_HASHERS, api_credentials


def test_an_issued_access_token_is_not_logged_at_debug(acme, caplog, settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    caplog.set_level(logging.DEBUG)
    creds = api_credentials(acme, "users:read")

    response = Client(HTTP_HOST=acme.host).post(
        "/o/token/",
        {
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
    )
    token = response.json()["access_token"]
    Client(HTTP_HOST=acme.host).post(
        "/o/revoke_token/",
        {"token": token, "client_id": creds.client_id, "client_secret": creds.client_secret},
    )

    assert response.status_code == 200
    logged = " ".join(f"{record.getMessage()} {record.__dict__!r}" for record in caplog.records)
    assert token not in logged
    assert creds.client_secret not in logged
