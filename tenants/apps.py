from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Organisations"

    def ready(self):
        from . import checks, signals  # noqa: F401
