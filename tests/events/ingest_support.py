"""Helpers for the ingest tests: installations, the payload samples and signed posts.

`samples/` holds byte-exact copies of the shared Shopify samples: each `.headers.json`
carries the test secret whose HMAC matches its body's exact bytes.
"""

import base64
import hashlib
import hmac
import json
import uuid
from pathlib import Path

from django_tenants.utils import tenant_context

from accounts.actors import Actor
from catalog_integrations.services import installation_create

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_SHOP = "example-shop.myshopify.com"
SAMPLE_SECRET = "test-shopify-client-secret-NOT-REAL"
ACTOR = Actor.system("tests")


def sample(name: str) -> tuple[bytes, dict[str, str]]:
    """A sample's exact body and its delivery headers."""
    body = (SAMPLES / f"shopify-{name}.json").read_bytes()
    headers = json.loads((SAMPLES / f"shopify-{name}.headers.json").read_text())["headers"]
    return body, headers


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_install(
    org,
    *,
    secret: str = SAMPLE_SECRET,
    shop_domain: str = SAMPLE_SHOP,
    purchase_topic: str = "orders/paid",
    include_test_orders: bool = False,
    name: str = "Example shop",
):
    with tenant_context(org.organisation):
        return installation_create(
            integration="shopify",
            name=name,
            config={
                "shop_domain": shop_domain,
                "webhook_secret": secret,
                "purchase_topic": purchase_topic,
                "include_test_orders": include_test_orders,
            },
            actor=ACTOR,
        ).installation


def mixpanel_install(org, *, name: str = "Mixpanel", token: str = "token-1"):
    with tenant_context(org.organisation):
        return installation_create(
            integration="mixpanel",
            name=name,
            config={"project_token": token, "api_secret": "mixpanel-secret", "region": "us"},
            actor=ACTOR,
        ).installation


def api_install(org, *, name: str = "Back office"):
    """An API integration installation and its key (shown once)."""
    with tenant_context(org.organisation):
        result = installation_create(integration="api", name=name, config={}, actor=ACTOR)
    return result.installation, result.one_time["api_key"]


def webhook_path(installation) -> str:
    return f"/api/v1/integrations/shopify/{installation.pk}/webhooks"


def post_webhook(client, installation, body: bytes, headers: dict[str, str], **overrides):
    """POST as Shopify would: exact bytes, the headers given (None drops one)."""
    merged = {**headers, **overrides}
    extra = {
        f"HTTP_{name.upper().replace('-', '_')}": value
        for name, value in merged.items()
        if value is not None and name.lower() != "content-type"
    }
    content_type = merged.get("Content-Type", "application/json")
    return client.post(webhook_path(installation), data=body, content_type=content_type, **extra)


def post_sample(client, installation, name: str, **overrides):
    body, headers = sample(name)
    return post_webhook(client, installation, body, headers, **overrides)


def signed_copy(name: str, *, secret: str = SAMPLE_SECRET, **changes) -> tuple[bytes, dict]:
    """A sample with some top-level fields changed, re-signed with `secret`, under a
    webhook id of its own."""
    body, headers = sample(name)
    payload = json.loads(body)
    payload.update(changes)
    new_body = json.dumps(payload).encode()
    return new_body, {
        **headers,
        "X-Shopify-Hmac-Sha256": sign(new_body, secret),
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
    }


def purchases_path(installation) -> str:
    return f"/api/v1/integrations/api/{installation.pk}/purchases"


def post_purchases(client, installation, key: str, payload, **extra):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {key}")
    content_type = extra.pop("content_type", "application/json")
    return client.post(purchases_path(installation), data=body, content_type=content_type, **extra)
