"""Worker hygiene: every task starts on the public schema.

A task that entered an organisation and failed to leave would otherwise leak that
schema into the next task on the same worker (CASES C01).
"""

from django.db import connection
from django.dispatch import receiver
from django_q.signals import pre_execute


@receiver(pre_execute)
def reset_schema_before_task(sender, func, task, **kwargs):
    connection.set_schema_to_public()
