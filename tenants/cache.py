"""Host-to-organisation lookups, kept in the shared cache.

Keys are made while the connection is on the public schema, so they carry `public`.
Any change to a domain or deletion of an organisation drops its hosts here.

The cache only saves a query: when it is unreachable (Redis restarting) lookups go to
the database and requests keep being served.

In front of it each process keeps the organisations it routed in the last
`ORGANISATION_HOST_LOCAL_SECONDS`, so a stream of webhooks to one host costs no round
trip for routing. A change drops the host here at once in the process that made it;
other processes see it when their entry expires. Only known hosts are kept locally,
and at most `ORGANISATION_HOST_LOCAL_SIZE` of them.
"""

import copy
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

logger = logging.getLogger(__name__)

_MISSING = "missing"
# What a cache backend raises when its server is away (redis-py's errors included).
_CACHE_ERRORS = (ConnectionError, TimeoutError, OSError)
try:
    from redis.exceptions import RedisError

    _CACHE_ERRORS = (*_CACHE_ERRORS, RedisError)
except ImportError:  # pragma: no cover - redis is a dependency
    pass


# host -> (monotonic expiry, organisation); oldest first.
_local: dict = {}


def _local_get(host: str):
    entry = _local.get(host)
    if entry is None:
        return None
    expires, organisation = entry
    if expires <= time.monotonic():
        _local.pop(host, None)
        return None
    # Each request gets its own instance: nothing one request sets on it leaks.
    routed = copy.copy(organisation)
    routed._routed_from_front = True
    return routed


def routed_from_front(organisation) -> bool:
    """Whether this organisation came from this process's front, not the shared cache
    or the database: another process may have deleted it in the last seconds."""
    return getattr(organisation, "_routed_from_front", False)


def forget_local_host(host: str) -> None:
    _local.pop(host, None)


def _local_put(host: str, organisation) -> None:
    seconds = settings.ORGANISATION_HOST_LOCAL_SECONDS
    if organisation is None or seconds <= 0 or settings.ORGANISATION_HOST_LOCAL_SIZE <= 0:
        _local.pop(host, None)
        return
    _local.pop(host, None)
    while len(_local) >= settings.ORGANISATION_HOST_LOCAL_SIZE:
        _local.pop(next(iter(_local)), None)
    _local[host] = (time.monotonic() + seconds, copy.copy(organisation))


def forget_local_hosts() -> None:
    """Empty this process's front (tests; the shared cache is cleared on its own)."""
    _local.clear()


def _key(host: str) -> str:
    return f"organisation-host:{host}"


def _on_public(fn):
    def wrapper(*args, **kwargs):
        previous = connection.tenant if hasattr(connection, "tenant") else None
        if connection.schema_name != "public":
            connection.set_schema_to_public()
            try:
                return fn(*args, **kwargs)
            finally:
                if previous is not None:
                    connection.set_tenant(previous)
        return fn(*args, **kwargs)

    return wrapper


def cached_organisation(host: str):
    """(found, organisation): found is None when the cache knows nothing of the host."""
    organisation = _local_get(host)
    if organisation is not None:
        return True, organisation
    found, organisation = _shared_organisation(host)
    if found:
        _local_put(host, organisation)
    return found, organisation


@_on_public
def _shared_organisation(host: str):
    try:
        value = cache.get(_key(host))
    except _CACHE_ERRORS:
        logger.warning("host_cache_unavailable", extra={"operation": "get"})
        return None, None
    if value is None:
        return None, None
    if value == _MISSING:
        return False, None
    return True, value


def remember_host(host: str, organisation) -> None:
    _local_put(host, organisation)
    _remember_shared(host, organisation)


@_on_public
def _remember_shared(host: str, organisation) -> None:
    value = organisation if organisation is not None else _MISSING
    try:
        cache.set(_key(host), value, settings.ORGANISATION_HOST_CACHE_SECONDS)
    except _CACHE_ERRORS:
        logger.warning("host_cache_unavailable", extra={"operation": "set"})


def forget_hosts(hosts: list[str]) -> None:
    """Drop these hosts now and, when called inside a transaction, again once it commits:
    a request routed in between would otherwise put the old answer back for
    `ORGANISATION_HOST_CACHE_SECONDS`."""
    hosts = list(hosts)
    if not hosts:
        return
    _forget_now(hosts)
    if connection.in_atomic_block:
        transaction.on_commit(lambda: _forget_now(hosts))


def _forget_now(hosts: list[str]) -> None:
    for host in hosts:
        _local.pop(host, None)
    _forget_shared(hosts)


@_on_public
def _forget_shared(hosts: list[str]) -> None:
    try:
        cache.delete_many([_key(h) for h in hosts])
    except _CACHE_ERRORS:
        # Entries expire after ORGANISATION_HOST_CACHE_SECONDS at the latest.
        logger.error("host_cache_not_cleared", extra={"hosts": hosts})
