from django.apps import AppConfig


class UpgradeAppConfig(AppConfig):
    """A tenant app installed only by the upgrade test (TEST_EXTRA_TENANT_APPS)."""

    name = "tests.upgrade_app"
    label = "upgrade_app"
