"""A package under tests/, named only in EXTRA_INTEGRATIONS, is a full integration:
in the catalog, with its forms, its API route and installable, with no product change."""

import json

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context

from catalog_integrations.models import Installation

from .conftest import install


@pytest.fixture(autouse=True)
def _base_url(settings):
    settings.BASE_SCHEME, settings.BASE_HOST, settings.BASE_PORT = "http", "localhost", 8000


def test_the_extra_integration_has_a_card_in_the_catalog(acme):
    response = acme.signed_in().get("/integrations/")

    assert response.status_code == 200
    assert b"Ping (tests)" in response.content
    assert b"A test-only source that accepts pings signed with its token." in response.content
    assert b'href="/integrations/ping/install/"' in response.content


def test_the_extra_integration_gets_its_install_form(acme):
    response = acme.signed_in().get("/integrations/ping/install/")

    assert response.status_code == 200
    assert b'name="endpoint_label"' in response.content
    assert b'name="token" autocomplete="new-password"' in response.content


def test_the_extra_integration_installs_through_the_portal_and_answers_on_its_url(acme):
    response = acme.signed_in().post(
        "/integrations/ping/install/",
        {"name": "Pinger", "endpoint_label": "lab", "token": "ping-token-1"},
    )

    with tenant_context(acme.organisation):
        installation = Installation.objects.get(integration="ping")
    assert response.status_code == 302
    assert response.url == f"/integrations/installations/{installation.pk}/"
    page = acme.signed_in().get(response.url).content.decode()
    url = f"http://acme.localhost:8000/api/v1/integrations/ping/{installation.pk}/pings"
    assert f'value="{url}"' in page

    pinged = acme.client().post(
        f"/api/v1/integrations/ping/{installation.pk}/pings",
        HTTP_AUTHORIZATION="Bearer ping-token-1",
    )
    refused = acme.client().post(
        f"/api/v1/integrations/ping/{installation.pk}/pings", HTTP_AUTHORIZATION="Bearer nope"
    )

    assert pinged.status_code == 200
    assert pinged.json() == {"installation_id": str(installation.pk), "pong": True}
    assert refused.status_code == 401


def test_the_extra_integration_installs_from_the_shell(acme, capsys):
    call_command(
        "install_integration",
        "--organisation=acme",
        "--integration=ping",
        "--name=Shell ping",
        '--config={"endpoint_label": "cli", "token": "t-1"}',
        "--json",
    )

    output = json.loads(capsys.readouterr().out)
    assert sorted(output) == ["ingest_url", "installation_id", "integration", "name"]
    assert output["integration"] == "ping"
    assert output["ingest_url"] == (
        f"http://acme.localhost:8000/api/v1/integrations/ping/{output['installation_id']}/pings"
    )


def test_an_extra_integrations_route_on_another_organisation_is_404(acme, borealis):
    installation = install(acme, "ping", "P", {"endpoint_label": "x", "token": "tok"}).installation

    response = borealis.client().post(
        f"/api/v1/integrations/ping/{installation.pk}/pings", HTTP_AUTHORIZATION="Bearer tok"
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
