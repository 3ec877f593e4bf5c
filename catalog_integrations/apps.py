from django.apps import AppConfig


class CatalogIntegrationsConfig(AppConfig):
    name = "catalog_integrations"
    verbose_name = "Integrations"

    def ready(self):
        from . import registry

        registry.discover()
