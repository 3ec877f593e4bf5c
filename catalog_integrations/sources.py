"""Where purchases come from: the installation an ingest URL names, read fast.

A source is the installation with its organisation's active destinations, read in one
round trip. An active source is then remembered by the process for a while, so a
stream of webhooks costs no read at all: a remembered source may be out of date, so
it only ever leads to a write that checks, in the same statement, that the
installation and the destinations are still as read (`purchase_record` raises
`SourceChanged` otherwise, having written nothing). Every other answer, a refusal or
an ignored topic included, is given from a fresh read (`receive_from_source`).
"""

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from uuid import UUID

from django.db import connection

from accounts.errors import ApplicationError
from tenants.db import prepared_cursor

from .models import Installation
from .registry import destinations

_INSTALLATION_FIELDS = Installation._meta.concrete_fields
_TABLE = Installation._meta.db_table
# The organisation's active destinations by id, given `destination_keys()`: enabled
# ones, paused ones included (their deliveries wait until they are resumed).
ACTIVE_DESTINATION_IDS_SQL = (
    f"SELECT id FROM {_TABLE} WHERE integration = ANY(%s) AND is_active ORDER BY id"  # noqa: S608
)
# The installation row's version: every update writes a new row version, stamped with
# the transaction that wrote it (`xmin`) and that transaction's command (`cmin`), so
# any change, even a second one in the transaction that read the row, changes it.
ROW_VERSION_SQL = "(i.xmin::text || ':' || i.cmin::text)"
# The installation a URL names, its version and the organisation's active
# destinations, in one round trip.
_SOURCE_SQL = (
    f"SELECT {', '.join(f'i.{f.column}' for f in _INSTALLATION_FIELDS)}, {ROW_VERSION_SQL}, "  # noqa: S608
    f"ARRAY({ACTIVE_DESTINATION_IDS_SQL}) FROM {_TABLE} AS i "
    "WHERE i.id = %s AND i.integration = %s"
)
# Active sources this process read lately, by (schema, installation id, integration).
SOURCE_MEMORY_SECONDS = 60
SOURCE_MEMORY_SIZE = 1000
_remembered: dict = {}


def destination_keys() -> list[str]:
    """The keys of the integrations that are destinations (`mixpanel`, ...)."""
    return list(_destination_keys())


@cache
def _destination_keys() -> tuple[str, ...]:
    # The registry discovers its packages once per process.
    return tuple(destination.key for destination in destinations())


class SourceChanged(Exception):
    """A remembered source no longer holds, or cannot decide this request alone."""


@dataclass(frozen=True)
class IngestSource:
    """An installation that sends purchases, and where they are to be delivered."""

    installation: Installation
    # Enabled destination installations (paused ones included), by id.
    destination_ids: tuple
    # The installation row's version when it was read (see `ROW_VERSION_SQL`).
    version: str
    remembered: bool = False


def ingest_source(installation_id: str, integration: str, *, fresh: bool = False):
    """The source an ingest URL names, or None for an unknown or malformed id.

    Unless `fresh`, an active source read by this process in the last
    `SOURCE_MEMORY_SECONDS` is given without a round trip. Read with a plain cursor:
    on the ingest path the ORM's query building, and even a raw queryset's column
    mapping, cost more than the fetch.
    """
    try:
        pk = UUID(installation_id)
    except ValueError:
        return None
    key = (connection.schema_name, pk, integration)
    if not fresh:
        entry = _remembered.get(key)
        if entry is not None and entry[0] > time.monotonic():
            # Each request gets its own instance: nothing one request sets on it leaks.
            return replace(entry[1], installation=_own_copy(entry[1].installation))
    with prepared_cursor() as cursor:
        cursor.execute(_SOURCE_SQL, [destination_keys(), pk, integration])
        row = cursor.fetchone()
    _remembered.pop(key, None)
    if row is None:
        return None
    *columns, version, destination_ids = row
    values = [
        field.from_db_value(value, None, connection) if hasattr(field, "from_db_value") else value
        for field, value in zip(_INSTALLATION_FIELDS, columns, strict=True)
    ]
    installation = Installation.from_db(
        connection.alias, [field.attname for field in _INSTALLATION_FIELDS], values
    )
    source = IngestSource(installation, tuple(destination_ids), version)
    if installation.is_active:
        _remember(key, source)
    return source


def _remember(key, source: IngestSource) -> None:
    while len(_remembered) >= SOURCE_MEMORY_SIZE:
        _remembered.pop(next(iter(_remembered)), None)
    # Its own copy: the request that read it may go on to change the instance it was
    # given (disabling it, say).
    kept = replace(source, installation=_own_copy(source.installation), remembered=True)
    _remembered[key] = (time.monotonic() + SOURCE_MEMORY_SECONDS, kept)


def _own_copy(installation: Installation) -> Installation:
    """A copy that shares nothing changeable with `installation`, configuration included."""
    copied = copy.copy(installation)
    copied.config = copy.deepcopy(installation.config)
    return copied


def forget_ingest_sources() -> None:
    """Empty this process's memory of sources (tests)."""
    _remembered.clear()


def receive_from_source(
    request, installation_id: str, integration: str, receive: Callable
) -> object:
    """`receive(request, source)`, first with a remembered source if there is one.

    With a remembered source, only a checked write stands: when `receive` raises
    `SourceChanged` (the write found the source changed, or the answer would be a
    refusal or an ignored topic) or refuses the request, it runs again with a fresh read.
    """
    source = ingest_source(installation_id, integration)
    if source is not None and source.remembered:
        try:
            return receive(request, source)
        except (SourceChanged, ApplicationError):
            source = ingest_source(installation_id, integration, fresh=True)
    return receive(request, source)
