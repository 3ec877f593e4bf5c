"""Host-to-organisation lookups, kept in the shared cache.

Keys are made while the connection is on the public schema, so they carry `public`.
Any change to a domain or deletion of an organisation drops its hosts here.

The cache only saves a query: when it is unreachable (Redis restarting) lookups go to
the database and requests keep being served.
"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection

logger = logging.getLogger(__name__)

_MISSING = "missing"
# What a cache backend raises when its server is away (redis-py's errors included).
_CACHE_ERRORS = (ConnectionError, TimeoutError, OSError)
try:
    from redis.exceptions import RedisError

    _CACHE_ERRORS = (*_CACHE_ERRORS, RedisError)
except ImportError:  # pragma: no cover - redis is a dependency
    pass


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


@_on_public
def cached_organisation(host: str):
    """(found, organisation): found is None when the cache knows nothing of the host."""
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


@_on_public
def remember_host(host: str, organisation) -> None:
    value = organisation if organisation is not None else _MISSING
    try:
        cache.set(_key(host), value, settings.ORGANISATION_HOST_CACHE_SECONDS)
    except _CACHE_ERRORS:
        logger.warning("host_cache_unavailable", extra={"operation": "set"})


@_on_public
def forget_hosts(hosts: list[str]) -> None:
    if not hosts:
        return
    try:
        cache.delete_many([_key(h) for h in hosts])
    except _CACHE_ERRORS:
        # Entries expire after ORGANISATION_HOST_CACHE_SECONDS at the latest.
        logger.error("host_cache_not_cleared", extra={"hosts": hosts})
