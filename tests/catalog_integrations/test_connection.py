"""Mixpanel's connection test calls only the installation's allowed host and reports
what it answered."""

import base64
import json

from django.test import override_settings
from django_tenants.utils import tenant_context

from catalog_integrations.models import Installation

from .conftest import MIXPANEL_SECRET, install, mixpanel_config


def _mixpanel_at(acme, receiver, **extra):
    config = mixpanel_config(api_host=receiver.url, **extra)
    return install(acme, "mixpanel", "MP", config).installation


def test_the_connection_test_reports_an_accepting_host(acme, fake_mixpanel):
    installation = _mixpanel_at(acme, fake_mixpanel)

    response = acme.signed_in().post(
        f"/integrations/installations/{installation.pk}/test/", HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert response.content.decode().strip() == (
        '<p id="connection-result-text" class="ok">Connected: '
        f"{fake_mixpanel.url} accepted the credentials (HTTP 200) and said: OK.</p>"
    )
    [request] = fake_mixpanel.requests
    assert request["path"] == "/import?strict=1"
    assert (
        request["authorization"]
        == "Basic " + base64.b64encode(f"{MIXPANEL_SECRET}:".encode()).decode()
    )
    assert json.loads(request["body"]) == []


def test_the_connection_test_reports_refused_credentials(acme, fake_mixpanel):
    installation = _mixpanel_at(acme, fake_mixpanel)
    fake_mixpanel.status = 401
    fake_mixpanel.body = {"code": 401, "error": "Invalid credentials", "status": "Unauthorized"}

    response = acme.signed_in().post(
        f"/integrations/installations/{installation.pk}/test/", HTTP_HX_REQUEST="true"
    )

    assert response.content.decode().strip() == (
        '<p id="connection-result-text" class="error">Not connected: '
        f"{fake_mixpanel.url} refused the credentials (HTTP 401) and said: "
        "Invalid credentials.</p>"
    )


def test_a_service_account_sends_its_name_and_project_id(acme, fake_mixpanel):
    config = {
        "project_token": "tok",
        "service_account_username": "sa.user",
        "service_account_secret": "sa-secret",
        "project_id": "42",
        "api_host": fake_mixpanel.url,
    }
    installation = install(acme, "mixpanel", "SA", config).installation

    acme.signed_in().post(f"/integrations/installations/{installation.pk}/test/")

    [request] = fake_mixpanel.requests
    assert request["path"] == "/import?strict=1&project_id=42"
    assert request["authorization"] == "Basic " + base64.b64encode(b"sa.user:sa-secret").decode()


def test_without_htmx_the_result_comes_on_the_installation_page(acme, fake_mixpanel):
    installation = _mixpanel_at(acme, fake_mixpanel)

    response = acme.signed_in().post(f"/integrations/installations/{installation.pk}/test/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>MP</h1>" in body
    assert "accepted the credentials (HTTP 200)" in body


def test_an_unreachable_host_is_reported_without_a_500(acme, fake_mixpanel, settings):
    installation = _mixpanel_at(acme, fake_mixpanel)
    url = fake_mixpanel.url
    fake_mixpanel_port_closed = url.rsplit(":", 1)[0] + ":1"
    settings.MIXPANEL_CUSTOM_HOSTS = [url, fake_mixpanel_port_closed]
    with tenant_context(acme.organisation):
        Installation.objects.filter(pk=installation.pk).update(
            config={**installation.config, "api_host": fake_mixpanel_port_closed}
        )

    response = acme.signed_in().post(
        f"/integrations/installations/{installation.pk}/test/", HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert (
        f"Not connected: Could not reach {fake_mixpanel_port_closed}: ConnectError."
        in response.content.decode()
    )


def test_a_host_removed_from_the_allowed_list_is_never_called(acme, fake_mixpanel):
    installation = _mixpanel_at(acme, fake_mixpanel)

    with override_settings(MIXPANEL_CUSTOM_HOSTS=[]):
        response = acme.signed_in().post(
            f"/integrations/installations/{installation.pk}/test/", HTTP_HX_REQUEST="true"
        )

    assert fake_mixpanel.requests == []
    assert (
        "Not connected: This installation&#x27;s Mixpanel host is not allowed."
        in response.content.decode()
    )


def test_sources_have_no_connection_test(acme):
    installation = install(acme, "api", "API", {}).installation

    response = acme.signed_in().post(f"/integrations/installations/{installation.pk}/test/")

    assert response.status_code == 404
