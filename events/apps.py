from django.apps import AppConfig
from django.db.models.signals import post_migrate


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"

    def ready(self):
        from .schedules import ensure_after_migrate

        post_migrate.connect(ensure_after_migrate, sender=self, dispatch_uid="events-schedules")
