"""API clients and bearer tokens for tests, made through the real service.

Client secrets are hashed with a fast hasher here (the product's takes about 0.25 s);
tests that send the secret to `/o/token/` use `FAST_HASHERS` as well.
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.test import Client, override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context
from oauth2_provider.models import AccessToken, set_token_value

from accounts.actors import Actor
from accounts.models import ApiClient
from accounts.selectors import known_scopes
from accounts.services import api_client_create

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class ApiCredentials:
    host: str
    client_id: str
    client_secret: str
    api_client: ApiClient
    token: str

    def client(self, token: str | None = None) -> Client:
        """A client for the organisation's host that sends this bearer token."""
        return Client(HTTP_HOST=self.host, HTTP_AUTHORIZATION=f"Bearer {token or self.token}")


def issue_token(api_client: ApiClient, scopes, *, expires_in: int = 3600) -> str:
    """An access token as `/o/token/` would store it (checksum only); call inside the schema."""
    raw = secrets.token_urlsafe(30)
    access = AccessToken(
        application=api_client.application,
        expires=timezone.now() + timedelta(seconds=expires_in),
        scope=" ".join(scopes),
    )
    set_token_value(access, raw)
    access.save()
    return raw


def api_credentials(org, *scopes: str, name: str = "tests", expires_in: int = 3600):
    """A new API client of `org` granted `scopes` (default: all), with a token for them."""
    scopes = scopes or tuple(known_scopes())
    with override_settings(PASSWORD_HASHERS=FAST_HASHERS), tenant_context(org.organisation):
        created = api_client_create(name=name, scopes=scopes, actor=Actor.system("tests"))
        token = issue_token(created.api_client, scopes, expires_in=expires_in)
    return ApiCredentials(
        host=org.host,
        client_id=created.client_id,
        client_secret=created.client_secret,
        api_client=created.api_client,
        token=token,
    )
