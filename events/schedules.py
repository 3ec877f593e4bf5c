"""The queue's schedule for deliveries, kept in django-q2's (public) schedule table.

Created after migrations run on the public schema, so `migrate_schemas --shared` is
all the set-up a new database needs.
"""

from django.db import connection
from django_tenants.utils import get_public_schema_name

SWEEP_SCHEDULE_NAME = "deliveries-sweep"
RAW_PAYLOADS_PRUNE_SCHEDULE_NAME = "raw-payloads-prune"
RAW_PAYLOADS_PRUNE_TASK = "events.tasks.raw_payloads_prune"


def sweep_schedule_ensure() -> None:
    """One schedule running the sweep every minute (it sweeps every few seconds)."""
    from django_q.models import Schedule

    from .sweep import SWEEP_TASK

    Schedule.objects.update_or_create(
        name=SWEEP_SCHEDULE_NAME,
        defaults={
            "func": SWEEP_TASK,
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


def raw_payloads_prune_schedule_ensure() -> None:
    """Once a day, raw bodies past `RAW_PAYLOAD_RETENTION_DAYS` are deleted."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=RAW_PAYLOADS_PRUNE_SCHEDULE_NAME,
        defaults={"func": RAW_PAYLOADS_PRUNE_TASK, "schedule_type": Schedule.DAILY, "repeats": -1},
    )


def ensure_after_migrate(sender, **kwargs) -> None:
    if connection.schema_name != get_public_schema_name():
        return
    sweep_schedule_ensure()
    raw_payloads_prune_schedule_ensure()
