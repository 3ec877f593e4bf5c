from ._env import ENV

TENANT_MODEL = "tenants.Organisation"
TENANT_DOMAIN_MODEL = "tenants.Domain"

# New organisations are cloned from this migrated, empty schema (see tenants.services).
TENANT_BASE_SCHEMA = "organisation_base"
TENANT_CREATION_FAKES_MIGRATIONS = True
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
# `SET search_path` once per change of schema, not before every query: on the ingest
# path it was half the database round trips. django-tenants forgets the path on
# rollback, savepoint rollback and reconnect, and sets it again.
TENANT_LIMIT_SET_CALLS = True

# The shared cache: Redis when configured, else a table in the public schema.
# Keys carry the schema name (django-tenants' key function) so organisations never
# read each other's entries.
if ENV.REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": ENV.REDIS_URL,
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
            "TIMEOUT": 300,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "shared_cache",
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
            "TIMEOUT": 300,
        }
    }

# How long a host lookup is trusted; changes drop it at once, this bounds staleness.
ORGANISATION_HOST_CACHE_SECONDS = 300
# Each process also keeps the hosts it routed this long, and at most this many (either
# 0 turns it off): another process's change reaches it within these seconds.
ORGANISATION_HOST_LOCAL_SECONDS = 5
ORGANISATION_HOST_LOCAL_SIZE = 1000

# Every schema is migrated even when one fails; failures are named and exit non-zero.
GET_EXECUTOR_FUNCTION = "tenants.migration_executors.get_executor"
# `migrate_schemas --executor=multiprocessing` runs this many schemas at once.
TENANT_MULTIPROCESSING_MAX_PROCESSES = 4
# The base schema first (it is the oldest row), so organisations cloned during a
# deploy start from a migrated base.
TENANT_MIGRATION_ORDER = ["id"]
