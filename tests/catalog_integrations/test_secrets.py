"""Secrets are write-only: encrypted at rest, never on a page, in an audit row or a log."""

import json
import logging
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.actors import Actor
from accounts.models import AuditEntry
from catalog_integrations.api.keys import api_key_matches
from catalog_integrations.crypto import read_secrets
from catalog_integrations.models import Installation
from catalog_integrations.services import installation_rotate_secret, installation_update
from catalog_integrations.shopify.secrets import valid_webhook_secrets

from .conftest import MIXPANEL_SECRET, SHOP_SECRET, install, mixpanel_config, shopify_config


def _raw_rows(org) -> list[str]:
    with tenant_context(org.organisation), connection.cursor() as cursor:
        cursor.execute(
            "SELECT secrets_encrypted, config::text FROM catalog_integrations_installation"
        )
        return [" ".join(row) for row in cursor.fetchall()]


def _audit_text(org) -> str:
    with tenant_context(org.organisation):
        return json.dumps(list(AuditEntry.objects.values("action", "changes", "target_label")))


def _reload(org, installation) -> Installation:
    with tenant_context(org.organisation):
        return Installation.objects.get(pk=installation.pk)


def test_the_raw_database_value_of_every_secret_differs_from_it(acme):
    install(acme, "shopify", "Shop", shopify_config())
    mixpanel = install(acme, "mixpanel", "MP", mixpanel_config())
    api = install(acme, "api", "API", {})

    rows = " ".join(_raw_rows(acme))

    assert SHOP_SECRET not in rows
    assert MIXPANEL_SECRET not in rows
    assert api.one_time["api_key"] not in rows
    assert read_secrets(_reload(acme, mixpanel.installation)) == {"api_secret": MIXPANEL_SECRET}


def test_pages_never_contain_a_secret(acme):
    client = acme.signed_in()
    client.post(
        "/integrations/shopify/install/",
        {"name": "Shop", "shop_domain": "acme-shop.myshopify.com", "webhook_secret": SHOP_SECRET},
    )
    client.post(
        "/integrations/mixpanel/install/",
        {"name": "MP", "project_token": "tok", "api_secret": MIXPANEL_SECRET, "region": "us"},
    )
    with tenant_context(acme.organisation):
        ids = [str(pk) for pk in Installation.objects.values_list("pk", flat=True)]

    pages = [client.get("/integrations/").content]
    for pk in ids:
        for path in ("", "edit/", "delete/"):
            pages.append(client.get(f"/integrations/installations/{pk}/{path}").content)

    assert len(pages) == 7
    for page in pages:
        assert SHOP_SECRET.encode() not in page
        assert MIXPANEL_SECRET.encode() not in page


def test_the_edit_form_says_a_secret_is_set_without_showing_it(acme):
    installation = install(acme, "shopify", "Shop", shopify_config()).installation

    page = acme.signed_in().get(f"/integrations/installations/{installation.pk}/edit/")

    body = page.content.decode()
    assert 'name="webhook_secret" autocomplete="new-password"' in body
    assert "Set. Leave blank to keep the current value." in body
    assert SHOP_SECRET not in body


def test_a_blank_secret_on_an_edit_keeps_the_old_one(acme):
    installation = install(acme, "shopify", "Shop", shopify_config()).installation

    response = acme.signed_in().post(
        f"/integrations/installations/{installation.pk}/edit/",
        {
            "name": "Renamed",
            "shop_domain": "acme-shop.myshopify.com",
            "webhook_secret": "",
            "purchase_topic": "orders/create",
        },
    )

    stored = _reload(acme, installation)
    assert response.status_code == 302
    assert stored.name == "Renamed"
    assert stored.config["purchase_topic"] == "orders/create"
    assert read_secrets(stored) == {"webhook_secret": SHOP_SECRET}


def test_audit_rows_name_changed_secrets_but_never_hold_them(acme):
    installation = install(acme, "shopify", "Shop", shopify_config()).installation
    with tenant_context(acme.organisation):
        installation_update(
            installation=installation,
            name="Shop",
            config=shopify_config(secret="the-second-secret"),
            actor=Actor.member(acme.admin),
        )
        installation_rotate_secret(
            installation=installation, value="the-third-secret", actor=Actor.member(acme.admin)
        )
        rows = list(
            AuditEntry.objects.filter(target_id=str(installation.pk))
            .order_by("occurred_at")
            .values("action", "changes", "actor_label")
        )

    assert rows == [
        {
            "action": "installation.created",
            "actor_label": "admin@acme.test",
            "changes": {
                "integration": "shopify",
                "name": "Shop",
                "config": {
                    "shop_domain": "acme-shop.myshopify.com",
                    "purchase_topic": "orders/paid",
                    "include_test_orders": False,
                },
                "secrets_set": ["webhook_secret"],
            },
        },
        {
            "action": "installation.updated",
            "actor_label": "admin@acme.test",
            "changes": {"secrets_replaced": ["webhook_secret"]},
        },
        {
            "action": "installation.secret_rotated",
            "actor_label": "admin@acme.test",
            "changes": {"secrets_replaced": ["webhook_secret"]},
        },
    ]
    text = _audit_text(acme)
    for secret in (SHOP_SECRET, "the-second-secret", "the-third-secret"):
        assert secret not in text


def test_logs_never_contain_a_secret(acme, caplog):
    caplog.set_level(logging.DEBUG)
    client = acme.signed_in()

    client.post(
        "/integrations/shopify/install/",
        {"name": "Shop", "shop_domain": "acme-shop.myshopify.com", "webhook_secret": SHOP_SECRET},
    )
    with tenant_context(acme.organisation):
        installation = Installation.objects.get()
    client.post(f"/integrations/installations/{installation.pk}/rotate/", {"secret": "rotated-1"})
    client.post(
        "/integrations/api/install/", {"name": "API"}
    )  # the generated key must not be logged either
    with tenant_context(acme.organisation):
        api = Installation.objects.get(integration="api")
    key_prefix = api.config["key_prefix"]

    everything = " ".join(repr(record.__dict__) for record in caplog.records)
    assert "installation_created" in everything
    assert "installation_secret_rotated" in everything
    assert SHOP_SECRET not in everything
    assert "rotated-1" not in everything
    assert f"{key_prefix}_" not in everything


def test_replacing_the_shopify_secret_keeps_the_previous_one_for_the_grace_period(acme, settings):
    settings.SHOPIFY_PREVIOUS_SECRET_GRACE_SECONDS = 7200
    installation = install(acme, "shopify", "Shop", shopify_config()).installation
    before = timezone.now()

    with tenant_context(acme.organisation):
        installation_rotate_secret(
            installation=installation, value="new-secret", actor=Actor.member(acme.admin)
        )
    stored = _reload(acme, installation)

    assert valid_webhook_secrets(stored) == ["new-secret", SHOP_SECRET]
    assert valid_webhook_secrets(stored, now=before + timedelta(seconds=7199)) == [
        "new-secret",
        SHOP_SECRET,
    ]
    late = timezone.now() + timedelta(seconds=7201)
    assert valid_webhook_secrets(stored, now=late) == ["new-secret"]


def test_an_edit_that_keeps_the_secret_keeps_the_grace_period_running(acme):
    installation = install(acme, "shopify", "Shop", shopify_config()).installation
    actor = Actor.member(acme.admin)
    with tenant_context(acme.organisation):
        installation_rotate_secret(installation=installation, value="new-secret", actor=actor)
        installation_update(
            installation=installation,
            name="Shop renamed",
            config=shopify_config(secret=""),
            actor=actor,
        )

    assert valid_webhook_secrets(_reload(acme, installation)) == ["new-secret", SHOP_SECRET]


def test_the_rotate_form_says_until_when_the_previous_secret_is_accepted(acme):
    installation = install(acme, "shopify", "Shop", shopify_config()).installation

    response = acme.signed_in().post(
        f"/integrations/installations/{installation.pk}/rotate/", {"secret": "rotated-value-9"}
    )
    page = acme.signed_in().get(response.url).content.decode()

    assert response.status_code == 302
    assert "Webhook signing secret: set. The previous secret is also accepted until " in page
    assert "rotated-value-9" not in page
    assert SHOP_SECRET not in page


def test_rotating_without_a_new_shopify_secret_is_refused(acme):
    installation = install(acme, "shopify", "Shop", shopify_config()).installation

    response = acme.signed_in().post(
        f"/integrations/installations/{installation.pk}/rotate/", {"secret": " "}
    )

    assert response.status_code == 422
    assert "Enter the new signing secret." in response.content.decode()
    assert valid_webhook_secrets(_reload(acme, installation)) == [SHOP_SECRET]


def test_the_api_key_is_shown_once_stored_hashed_and_rotated(acme):
    client = acme.signed_in()

    installed = client.post("/integrations/api/install/", {"name": "Backend"})
    with tenant_context(acme.organisation):
        installation = Installation.objects.get(integration="api")
    key = installed.context["one_time"]["api_key"]
    later = client.get(f"/integrations/installations/{installation.pk}/")
    rotated = client.post(f"/integrations/installations/{installation.pk}/rotate/")
    new_key = rotated.context["one_time"]["api_key"]
    stored = _reload(acme, installation)

    assert installed.status_code == 200
    assert key.startswith(installation.config["key_prefix"] + "_")
    assert f'value="{key}"' in installed.content.decode()
    assert key not in later.content.decode()
    assert key not in " ".join(_raw_rows(acme))
    assert rotated.status_code == 200
    assert new_key != key
    assert api_key_matches(stored, new_key) is True
    assert api_key_matches(stored, key) is False
    assert api_key_matches(stored, "") is False
    assert api_key_matches(stored, new_key + "x") is False


def test_rotate_encryption_keys_reencrypts_every_installation_of_every_organisation(
    acme, borealis, settings, capsys
):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    shop = install(acme, "shopify", "Shop", shopify_config()).installation
    mixpanel = install(borealis, "mixpanel", "MP", mixpanel_config()).installation
    install(acme, "api", "API", {})  # no encrypted secrets: nothing to re-encrypt
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    call_command("rotate_encryption_keys", "--json")
    settings.FIELD_ENCRYPTION_KEYS = [new_key]

    assert json.loads(capsys.readouterr().out) == {"reencrypted": 2}
    assert read_secrets(_reload(acme, shop)) == {"webhook_secret": SHOP_SECRET}
    assert read_secrets(_reload(borealis, mixpanel)) == {"api_secret": MIXPANEL_SECRET}
    with tenant_context(acme.organisation):
        audit = AuditEntry.objects.get(action="installations.secrets_reencrypted")
    assert audit.changes == {"count": 1}
    assert audit.actor_label == "rotate_encryption_keys"


@pytest.mark.parametrize("integration", ["shopify", "api"])
def test_installations_stay_readable_after_a_second_rotation(acme, settings, integration):
    config = shopify_config() if integration == "shopify" else {}
    installation = install(acme, integration, "X", config).installation
    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]

    call_command("rotate_encryption_keys")
    call_command("rotate_encryption_keys")

    assert read_secrets(_reload(acme, installation)) == (
        {"webhook_secret": SHOP_SECRET} if integration == "shopify" else {}
    )


def test_the_page_showing_a_new_api_key_is_never_cached(acme):
    response = acme.signed_in().post("/integrations/api/install/", {"name": "Backend"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


@pytest.mark.parametrize(
    "path", ["/integrations/shopify/install/", "/integrations/shopify/install/check/"]
)
def test_posted_secrets_are_hidden_from_error_reports(acme, path):
    response = acme.signed_in().post(path, {"name": "S", "webhook_secret": SHOP_SECRET})

    assert response.wsgi_request.sensitive_post_parameters == "__ALL__"
