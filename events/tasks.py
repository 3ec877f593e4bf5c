"""Background work for deliveries: the dispatch task, its enqueue guard and the sweep.

Tasks take the organisation's schema name as an argument and enter it themselves; they
never trust the connection's current schema, and always leave it on public.
"""

import logging

from django.core.cache import cache
from django.db import connection
from django_q.tasks import async_task
from django_tenants.utils import schema_context

logger = logging.getLogger(__name__)

# A queued task clears its marker when it starts. If the task is lost (a broker or
# cluster crash) the marker lapses after this long and the sweep may queue another.
DISPATCH_MARKER_SECONDS = 30

DISPATCH_TASK = "events.tasks.dispatch_deliveries"


def _marker_key(schema_name: str, destination_id) -> str:
    return f"dispatch-queued:{schema_name}:{destination_id}"


def dispatch_enqueue(*, schema_name: str, destination_id) -> None:
    """Queue a dispatch task for one organisation and destination, unless one is queued.

    Call it after commit (`transaction.on_commit`). At most one task per organisation
    and destination waits in the queue at a time: a marker in the shared cache, set
    atomically here and cleared when the task starts, so work recorded while a task
    runs gets one more task, never a pile of them.
    """
    destination_id = str(destination_id)
    # Cache keys carry the current schema: pin it, so every caller makes the same key.
    with schema_context(schema_name):
        queued = cache.add(_marker_key(schema_name, destination_id), 1, DISPATCH_MARKER_SECONDS)
    if not queued:
        return
    async_task(
        DISPATCH_TASK,
        schema_name,
        destination_id,
        task_name=f"dispatch {schema_name} {destination_id}",
    )


def dispatch_marker_clear(*, schema_name: str, destination_id) -> None:
    """A starting task lets the next enqueue queue a successor."""
    with schema_context(schema_name):
        cache.delete(_marker_key(schema_name, str(destination_id)))


def dispatch_deliveries(schema_name: str, destination_id: str) -> dict:
    """The dispatch task: one turn of batches for one organisation and destination.

    Fails (the queue records it) for a schema that names no organisation, writing
    nothing; always leaves the connection on the public schema.
    """
    from .dispatch import dispatch_turn

    try:
        return dispatch_turn(schema_name=schema_name, destination_id=destination_id)
    finally:
        connection.set_schema_to_public()


def sweep_work_due(token: str | None = None) -> dict:
    """The sweep task (scheduled every minute, kicked early by dispatch)."""
    from .sweep import sweep_run

    try:
        return sweep_run(token)
    finally:
        connection.set_schema_to_public()


def raw_payloads_prune() -> dict:
    """The daily prune of raw bodies older than RAW_PAYLOAD_RETENTION_DAYS (scheduled)."""
    from .services.receipts import raw_payloads_prune as prune

    return prune()
