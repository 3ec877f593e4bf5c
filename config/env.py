"""The one typed reader of the process environment.

Every setting the product takes from outside is declared here, with its default, so
that the configuration table in the README and this class describe the same thing.
"""

from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BASE_DIR = Path(__file__).resolve().parent.parent

PRODUCTION_REQUIRED = ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL")


class Env(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore")

    ENVIRONMENT: Literal["development", "production"] = "development"
    BASE_URL: str = "http://localhost:8000"
    DATABASE_URL: str | None = None
    DATA_DIR: Path = BASE_DIR / ".data"
    REDIS_URL: str | None = None
    SECRET_KEY: str | None = None
    FIELD_ENCRYPTION_KEYS: str | None = None
    EMAIL_URL: str | None = None
    MIXPANEL_CUSTOM_HOSTS: str = ""

    MAX_INGEST_BODY_BYTES: int = Field(default=5 * 1024 * 1024, gt=0)
    RAW_PAYLOAD_RETENTION_DAYS: int = Field(default=7, ge=0)
    IDENTITY_HOLD_SECONDS: int = Field(default=900, ge=0)
    DELIVERY_MAX_ATTEMPTS: int = Field(default=12, ge=1)
    OAUTH_TOKEN_LIFETIME_SECONDS: int = Field(default=3600, gt=0)
    SHOPIFY_PREVIOUS_SECRET_GRACE_SECONDS: int = Field(default=7200, ge=0)

    # Test-suite knobs: a private test database per checkout or helper process, and
    # extra tenant apps that only upgrade tests install (comma-separated).
    TEST_DATABASE_NAME: str | None = None
    TEST_EXTRA_TENANT_APPS: str = ""

    @property
    def is_production(self) -> bool:
        return self.ENVIRONMENT == "production"

    @cached_property
    def base_url_parts(self):
        return urlsplit(self.BASE_URL)

    @property
    def base_scheme(self) -> str:
        return self.base_url_parts.scheme or "http"

    @property
    def base_host(self) -> str:
        return (self.base_url_parts.hostname or "localhost").lower()

    @property
    def base_port(self) -> int | None:
        return self.base_url_parts.port

    @property
    def mixpanel_custom_hosts(self) -> list[str]:
        return [h.strip().rstrip("/") for h in self.MIXPANEL_CUSTOM_HOSTS.split(",") if h.strip()]

    def data_dir(self) -> Path:
        path = self.DATA_DIR if self.DATA_DIR.is_absolute() else BASE_DIR / self.DATA_DIR
        path.mkdir(parents=True, exist_ok=True)
        return path

    def missing_production_secrets(self) -> list[str]:
        return [name for name in PRODUCTION_REQUIRED if not getattr(self, name)]


def read_env() -> Env:
    return Env()
