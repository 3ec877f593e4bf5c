"""`install_integration` from the shell, with ARCHITECTURE.md's JSON keys."""

import json

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context

from accounts.models import AuditEntry
from catalog_integrations.api.keys import api_key_matches
from catalog_integrations.crypto import read_secrets
from catalog_integrations.models import Installation


@pytest.fixture(autouse=True)
def _base_url(settings):
    settings.BASE_SCHEME, settings.BASE_HOST, settings.BASE_PORT = "http", "localhost", 8000


def _run(capsys, *args) -> tuple[int, dict]:
    code = 0
    try:
        call_command("install_integration", *args, "--json")
    except SystemExit as exc:
        code = exc.code
    return code, json.loads(capsys.readouterr().out)


def test_installing_shopify_prints_its_id_and_ingest_url(acme, capsys):
    config = json.dumps({"shop_domain": "acme-shop.myshopify.com", "webhook_secret": "sek"})

    code, output = _run(
        capsys, "--organisation=acme", "--integration=shopify", "--name=Shop", f"--config={config}"
    )

    with tenant_context(acme.organisation):
        installation = Installation.objects.get()
        audit = AuditEntry.objects.get(action="installation.created")
    assert code == 0
    assert output == {
        "installation_id": str(installation.pk),
        "integration": "shopify",
        "name": "Shop",
        "ingest_url": (
            f"http://acme.localhost:8000/api/v1/integrations/shopify/{installation.pk}/webhooks"
        ),
    }
    assert read_secrets(installation) == {"webhook_secret": "sek"}
    assert audit.actor_label == "install_integration"


def test_installing_the_api_integration_prints_its_key_once(acme, capsys):
    code, output = _run(capsys, "--organisation=acme", "--integration=api", "--name=Backend")

    with tenant_context(acme.organisation):
        installation = Installation.objects.get()
    assert code == 0
    assert sorted(output) == ["api_key", "ingest_url", "installation_id", "integration", "name"]
    assert output["ingest_url"].endswith(f"/api/v1/integrations/api/{installation.pk}/purchases")
    assert api_key_matches(installation, output["api_key"]) is True
    assert output["api_key"] not in json.dumps(installation.config)


def test_installing_mixpanel_prints_no_ingest_url(acme, capsys):
    config = json.dumps({"project_token": "tok", "api_secret": "s", "region": "in"})

    code, output = _run(
        capsys, "--organisation=acme", "--integration=mixpanel", "--name=MP", f"--config={config}"
    )

    assert code == 0
    assert sorted(output) == ["installation_id", "integration", "name"]


@pytest.mark.parametrize(
    ("args", "detail", "code"),
    [
        (
            ["--organisation=nobody", "--integration=api", "--name=X"],
            "There is no organisation 'nobody'.",
            "organisation_not_found",
        ),
        (
            ["--organisation=acme", "--integration=zapier", "--name=X"],
            "There is no integration called 'zapier'.",
            "unknown_integration",
        ),
        (
            ["--organisation=acme", "--integration=shopify", "--name=X", "--config={nope"],
            "--config is not valid JSON.",
            "invalid_config",
        ),
        (
            ["--organisation=acme", "--integration=shopify", "--name=X", "--config=[]"],
            "--config must be a JSON object.",
            "invalid_config",
        ),
        (
            [
                "--organisation=acme",
                "--integration=shopify",
                "--name=X",
                '--config={"shop_domain": "x.example.com"}',
            ],
            "The Shopify installation is not valid.",
            "validation_error",
        ),
    ],
)
def test_failures_exit_non_zero_with_detail_and_code(acme, capsys, args, detail, code):
    exit_code, output = _run(capsys, *args)

    assert exit_code == 1
    assert output["detail"] == detail
    assert output["code"] == code
    with tenant_context(acme.organisation):
        assert not Installation.objects.exists()


def test_a_bad_config_lists_each_field_error(acme, capsys):
    config = json.dumps({"shop_domain": "x.example.com", "purchase_topic": "orders/updated"})

    _, output = _run(
        capsys, "--organisation=acme", "--integration=shopify", "--name=X", f"--config={config}"
    )

    assert output["errors"] == [
        {
            "field": "shop_domain",
            "message": "Enter the shop's myshopify.com domain, like example-shop.myshopify.com.",
        },
        {
            "field": "purchase_topic",
            "message": "Select a valid choice. orders/updated is not one of the available choices.",
        },
    ]
