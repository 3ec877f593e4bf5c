from catalog_integrations import registry
from catalog_integrations.base import BaseIntegration


def test_the_registry_finds_every_integration_package_sources_first():
    keys = [integration.key for integration in registry.integrations()]

    assert keys == ["api", "ping", "shopify", "mixpanel"]


def test_sources_and_destinations_are_told_apart():
    assert [i.key for i in registry.sources()] == ["api", "ping", "shopify"]
    assert [i.key for i in registry.destinations()] == ["mixpanel"]


def test_get_integration_returns_the_instance_or_none():
    shopify = registry.get_integration("shopify")

    assert isinstance(shopify, BaseIntegration)
    assert shopify.package == "catalog_integrations.shopify"
    assert registry.get_integration("nope") is None


def test_discovery_runs_once():
    before = registry.get_integration("shopify")

    registry.discover()

    assert registry.get_integration("shopify") is before


def test_each_package_declares_the_keys_of_the_architecture():
    config_keys = {i.key: i.config_keys() for i in registry.integrations()}

    assert config_keys["shopify"] == [
        "shop_domain",
        "webhook_secret",
        "purchase_topic",
        "include_test_orders",
    ]
    assert config_keys["api"] == []
    assert config_keys["mixpanel"] == [
        "project_token",
        "api_secret",
        "service_account_username",
        "service_account_secret",
        "project_id",
        "region",
        "api_host",
    ]


def test_ingest_suffixes_of_the_sources():
    suffixes = {i.key: i.ingest_path_suffix for i in registry.sources()}

    assert suffixes == {"api": "purchases", "ping": "pings", "shopify": "webhooks"}


def test_a_destination_client_is_imported_lazily_from_its_package(monkeypatch):
    import sys
    import types

    module = types.ModuleType("tests.extra_integration.client")
    module.build_client = lambda installation: ("client for", installation)
    monkeypatch.setitem(sys.modules, "tests.extra_integration.client", module)

    ping = registry.get_integration("ping")

    assert ping.client("x") == ("client for", "x")
