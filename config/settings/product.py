"""The product's tunables; see the configuration table in the README."""

from config.email import email_settings

from ._env import ENV, TESTING

ENVIRONMENT = ENV.ENVIRONMENT
MAX_INGEST_BODY_BYTES = ENV.MAX_INGEST_BODY_BYTES
RAW_PAYLOAD_RETENTION_DAYS = ENV.RAW_PAYLOAD_RETENTION_DAYS
IDENTITY_HOLD_SECONDS = ENV.IDENTITY_HOLD_SECONDS
DELIVERY_MAX_ATTEMPTS = ENV.DELIVERY_MAX_ATTEMPTS
SHOPIFY_PREVIOUS_SECRET_GRACE_SECONDS = ENV.SHOPIFY_PREVIOUS_SECRET_GRACE_SECONDS
# The development Mixpanel receiver that `make run` starts on loopback, on the port after
# the web server's (8001 by default); in development it is the default custom host, so
# the demo organisation can send to it.
DEV_MIXPANEL_RECEIVER_URL = f"http://127.0.0.1:{(ENV.base_port or 8000) + 1}"
MIXPANEL_CUSTOM_HOSTS = ENV.mixpanel_custom_hosts or (
    [DEV_MIXPANEL_RECEIVER_URL] if not (ENV.is_production or TESTING) else []
)
REDIS_URL = ENV.REDIS_URL

# Integration packages found outside catalog_integrations/ (dotted paths; tests use it).
# Under pytest the registry also finds the test-only package, as a new one would be.
EXTRA_INTEGRATIONS: list[str] = ["tests.extra_integration"] if TESTING else []

# Django's upload limit matches the ingest limit, so a big body is refused, not buffered.
DATA_UPLOAD_MAX_MEMORY_SIZE = ENV.MAX_INGEST_BODY_BYTES

globals().update(email_settings(ENV.EMAIL_URL, production=ENV.is_production))
DEFAULT_FROM_EMAIL = "Analytics <no-reply@" + ENV.base_host + ">"
SERVER_EMAIL = DEFAULT_FROM_EMAIL
