"""Production refuses to start without its secrets; development needs none of them."""

import os
import subprocess
import sys

import pytest

from config.env import BASE_DIR, PRODUCTION_REQUIRED

READ_SETTINGS = (
    "import config.settings as s; "
    "print(s.LOGGING['handlers']['stdout']['formatter'], s.DEBUG, s.DATABASES['default']['NAME'])"
)
SECRETS = {
    "SECRET_KEY": "a-production-secret-key-of-decent-length",
    "FIELD_ENCRYPTION_KEYS": "kW6sVZbXhNcO4k3m2sJ0QmK0Zr0f8o1yq4r7h8xZ3dE=",
    "DATABASE_URL": "postgres://app:pw@db.internal:5432/analytics",
}


def _read_settings(**env) -> subprocess.CompletedProcess:
    """Import the settings in a fresh interpreter with exactly these product variables."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION_REQUIRED and k not in ("ENVIRONMENT", "DJANGO_SETTINGS_MODULE")
    }
    return subprocess.run(
        [sys.executable, "-c", READ_SETTINGS],
        cwd=BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_without_any_secret_refuses_naming_all_three():
    result = _read_settings(ENVIRONMENT="production")

    assert result.returncode != 0
    assert result.stdout == ""
    assert (
        "ImproperlyConfigured: ENVIRONMENT=production requires "
        "SECRET_KEY, FIELD_ENCRYPTION_KEYS, DATABASE_URL to be set." in result.stderr
    )


@pytest.mark.parametrize("missing", PRODUCTION_REQUIRED)
def test_production_names_the_one_missing_variable(missing):
    present = {k: v for k, v in SECRETS.items() if k != missing}

    result = _read_settings(ENVIRONMENT="production", **present)

    assert result.returncode != 0
    assert f"ENVIRONMENT=production requires {missing} to be set." in result.stderr


def test_production_with_its_secrets_starts_and_logs_json():
    result = _read_settings(ENVIRONMENT="production", **SECRETS)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["json", "False", "analytics"]
