"""Process hygiene: every task starts on the public schema; finished requests leave no log context.

A task that entered an organisation and failed to leave would otherwise leak that
schema into the next task on the same worker (CASES C01).
"""

from django.core.signals import request_finished
from django.db import connection
from django.dispatch import receiver
from django_q.signals import pre_execute

from config.logging import clear_context


@receiver(pre_execute)
def reset_schema_before_task(sender, func, task, **kwargs):
    connection.set_schema_to_public()


# Sent when the response is closed, after Django's own log line for a 4xx or 5xx.
request_finished.connect(clear_context, dispatch_uid="clear_log_context")
