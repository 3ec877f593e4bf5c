"""Host-to-organisation lookups, kept in the shared cache.

Keys are made while the connection is on the public schema, so they carry `public`.
Any change to a domain or deletion of an organisation drops its hosts here.
"""

from django.conf import settings
from django.core.cache import cache
from django.db import connection

_MISSING = "missing"


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
    value = cache.get(_key(host))
    if value is None:
        return None, None
    if value == _MISSING:
        return False, None
    return True, value


@_on_public
def remember_host(host: str, organisation) -> None:
    value = organisation if organisation is not None else _MISSING
    cache.set(_key(host), value, settings.ORGANISATION_HOST_CACHE_SECONDS)


@_on_public
def forget_hosts(hosts: list[str]) -> None:
    if hosts:
        cache.delete_many([_key(h) for h in hosts])
