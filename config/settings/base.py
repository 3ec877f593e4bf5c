import secrets
from pathlib import Path

from config.env import BASE_DIR

from ._env import ENV

DEBUG = not ENV.is_production
# Error reports (the debug page included) hide posted secrets and secret-holding frames.
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.reporting.SecretsReporterFilter"


def _development_secret(name: str, make) -> str:
    """A key generated once into DATA_DIR, so development restarts keep sessions and data."""
    path: Path = ENV.data_dir() / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


SECRET_KEY = ENV.SECRET_KEY or _development_secret("secret_key", lambda: secrets.token_urlsafe(50))
FIELD_ENCRYPTION_KEYS = [
    key.strip()
    for key in (
        ENV.FIELD_ENCRYPTION_KEYS or _development_secret("field_encryption_keys", _fernet_key)
    ).split(",")
    if key.strip()
]

BASE_URL = ENV.BASE_URL.rstrip("/")
DATA_DIR_PATH = ENV.data_dir()
BASE_HOST = ENV.base_host
BASE_SCHEME = ENV.base_scheme
BASE_PORT = ENV.base_port

ALLOWED_HOSTS = [BASE_HOST, f".{BASE_HOST}", ".localhost", "127.0.0.1", "testserver"]

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "accounts",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    # Index expressions with operator classes (events: the users' email prefix search).
    "django.contrib.postgres",
    "django_htmx",
    "django_q",
    # Its templates and static files: /api/v1/docs then serves Swagger UI itself, not from a CDN.
    "ninja",
]

TENANT_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "accounts",
    "allauth",
    "allauth.account",
    "oauth2_provider",
    "catalog_integrations",
    "events",
]

TENANT_APPS += [app for app in ENV.TEST_EXTRA_TENANT_APPS.split(",") if app]

INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

MIDDLEWARE = [
    "tenants.middleware.HealthCheckMiddleware",
    "tenants.middleware.RequestIdMiddleware",
    "tenants.middleware.OrganisationMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # From here on, the browser's middleware: `/api/` routes skip each of these
    # (tenants.middleware.ApiExemptMixin), `/o/` routes skip CSRF only.
    "tenants.middleware.WhiteNoiseMiddleware",
    "tenants.middleware.ApiSessionBypassMiddleware",
    "tenants.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "tenants.middleware.CsrfViewMiddleware",
    "tenants.middleware.AuthenticationMiddleware",
    "tenants.middleware.MessageMiddleware",
    "tenants.middleware.XFrameOptionsMiddleware",
    "tenants.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.organisation",
            ],
        },
    }
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if ENV.is_production
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Development serves straight from the finders, so no collectstatic step is needed.
WHITENOISE_USE_FINDERS = not ENV.is_production
WHITENOISE_AUTOREFRESH = not ENV.is_production

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Host-only cookies: never a parent domain, so one organisation's session is not sent
# to another organisation's host.
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = ENV.is_production and BASE_SCHEME == "https"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if ENV.is_production and BASE_SCHEME == "https":
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    CSRF_TRUSTED_ORIGINS = [f"https://*.{BASE_HOST}", f"https://{BASE_HOST}"]
