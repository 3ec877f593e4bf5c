from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from config.embedded_db import embedded_database_settings

from ._env import ENV

# Persistent connections: measured as a 6x difference on the ingest path.
CONN_MAX_AGE = 60


def _from_url(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured("DATABASE_URL must be a postgres:// URL.")
    # A unix socket folder may come as `?host=/path` (as pgserver's URIs do).
    socket_dir = parse_qs(parts.query).get("host", [""])[0]
    return {
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": socket_dir or parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


_connection = (
    _from_url(ENV.DATABASE_URL) if ENV.DATABASE_URL else embedded_database_settings(ENV.data_dir())
)

DATABASES = {
    "default": {
        "ENGINE": "tenants.postgresql_backend",
        **_connection,
        "CONN_MAX_AGE": CONN_MAX_AGE,
        "CONN_HEALTH_CHECKS": True,
        # Django's own cursors bind on the client and are never prepared; the ingest
        # path's server-binding cursors (tenants.db) are, after this many runs.
        "OPTIONS": {"prepare_threshold": 5},
        "TEST": {"NAME": ENV.TEST_DATABASE_NAME or f"test_{_connection['NAME']}"},
    }
}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
