"""What Django's error report (debug page, mailed report) would show of a posted form."""

import httpx
from django.test import Client
from django.views.debug import SafeExceptionReporterFilter

from tests.events.ingest_support import mixpanel_install

PASSWORD = "a-long-enough-passphrase"


def _failing(*args, **kwargs):
    # The debug page shows the lines around this one: keep secrets out of them.
    raise RuntimeError("an unexpected failure")


def test_the_sign_up_password_is_hidden_from_error_reports(db):
    response = Client().post(
        "/signup/",
        {"name": "Leaky", "slug": "x", "admin_email": "o@leaky.test", "password": PASSWORD},
        HTTP_HOST="localhost",
    )

    shown = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert response.status_code == 400
    assert shown["password"] == "********************"
    assert shown["slug"] == "x"


def test_the_debug_page_of_a_failed_connection_test_shows_no_secret(acme, settings, monkeypatch):
    settings.DEBUG = True
    mixpanel = mixpanel_install(acme)
    monkeypatch.setattr(httpx, "post", _failing)
    client = acme.signed_in()
    client.raise_request_exception = False

    response = client.post(f"/integrations/installations/{mixpanel.pk}/test/")

    assert response.status_code == 500
    assert b"an unexpected failure" in response.content
    assert b"mixpanel-secret" not in response.content


def test_the_debug_page_of_a_failed_edit_shows_neither_secret(acme, settings, monkeypatch):
    settings.DEBUG = True
    mixpanel = mixpanel_install(acme)
    monkeypatch.setattr("catalog_integrations.services.audit_record", _failing)
    client = acme.signed_in()
    client.raise_request_exception = False

    response = client.post(
        f"/integrations/installations/{mixpanel.pk}/edit/",
        {"name": "M", "project_token": "t", "api_secret": "the-new-secret", "region": "us"},
    )

    assert response.status_code == 500
    assert b"the-new-secret" not in response.content
    assert b"mixpanel-secret" not in response.content
