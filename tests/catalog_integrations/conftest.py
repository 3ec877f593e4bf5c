"""Fixtures of the catalog tests: installations made through the service, a viewer, and
a fake Mixpanel receiver on loopback (allowed through MIXPANEL_CUSTOM_HOSTS)."""

import pytest
from django_tenants.utils import tenant_context

from accounts.actors import Actor
from accounts.models import Member, Role
from catalog_integrations.services import installation_create

from .fakes import fake_receiver

SHOP_SECRET = "shpss_acme-signing-secret-0001"
MIXPANEL_SECRET = "mp-api-secret-acme-0001"


def install(org, integration: str, name: str, config: dict):
    """Install through the service in `org`, as its admin; returns the service result."""
    with tenant_context(org.organisation):
        return installation_create(
            integration=integration, name=name, config=config, actor=Actor.member(org.admin)
        )


def shopify_config(shop: str = "acme-shop", secret: str = SHOP_SECRET, **extra) -> dict:
    return {"shop_domain": f"{shop}.myshopify.com", "webhook_secret": secret, **extra}


def mixpanel_config(**extra) -> dict:
    return {"project_token": "tok-acme", "api_secret": MIXPANEL_SECRET, "region": "eu", **extra}


@pytest.fixture
def viewer(acme):
    with tenant_context(acme.organisation):
        return Member.objects.create_user(
            email="viewer@acme.test", password="viewer-password-123", role=Role.VIEWER
        )


@pytest.fixture
def fake_mixpanel(settings):
    with fake_receiver() as receiver:
        settings.MIXPANEL_CUSTOM_HOSTS = [receiver.url]
        yield receiver
