"""The demo that `make run` offers: a shop and a local Mixpanel, and sample webhooks.

`demo_integrations_ensure` gives an organisation a Shopify installation (with a
generated webhook secret) and a Mixpanel installation pointed at the development
receiver. `demo_webhooks_send` posts the Shopify samples in `demo_samples/` to the
running web server exactly as Shopify would, re-signed with that installation's secret
and shop domain and dated to the last few days, so purchases can be watched arriving at
the receiver and on the overview. Development only: it posts to loopback and nowhere else.
"""

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.errors import ApplicationError
from catalog_integrations.crypto import read_secrets
from catalog_integrations.models import Installation
from catalog_integrations.services import installation_create
from tenants.models import Organisation

from .models import Customer
from .services.users import IdentityRef, UserInput, customer_create

DEMO_ACTOR = Actor.system("demo")
SAMPLES = Path(__file__).parent / "demo_samples"
SHOP_NAME = "Demo shop"
SHOP_DOMAIN = "demo-shop.myshopify.com"
MIXPANEL_NAME = "Mixpanel (local receiver)"
# In the order a shop would send them: the paid order, then its refund, then the rest.
SAMPLE_TOPICS = [
    ("orders-paid", "orders/paid"),
    ("refunds-create", "refunds/create"),
    ("orders-cancelled", "orders/cancelled"),
    ("orders-create", "orders/create"),
    ("orders-create-guest", "orders/create"),
]
# A person waits on this command: the local server answers in milliseconds.
POST_TIMEOUT_SECONDS = 10.0
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _installation(integration: str, name: str) -> Installation | None:
    return Installation.objects.filter(integration=integration, name=name).first()


def demo_integrations_ensure() -> dict:
    """The demo shop and Mixpanel installations of the active organisation (made once)."""
    shop = _installation("shopify", SHOP_NAME)
    if shop is None:
        shop = installation_create(
            integration="shopify",
            name=SHOP_NAME,
            config={"shop_domain": SHOP_DOMAIN, "webhook_secret": secrets.token_urlsafe(24)},
            actor=DEMO_ACTOR,
        ).installation
    mixpanel = _installation("mixpanel", MIXPANEL_NAME)
    if mixpanel is None:
        mixpanel = installation_create(
            integration="mixpanel",
            name=MIXPANEL_NAME,
            config={
                "project_token": "demo-project-token",
                "api_secret": "demo-api-secret",
                "api_host": settings.DEV_MIXPANEL_RECEIVER_URL,
            },
            actor=DEMO_ACTOR,
        ).installation
    return {
        "shopify_installation_id": str(shop.pk),
        "shop_domain": shop.config["shop_domain"],
        "webhook_secret": read_secrets(shop)["webhook_secret"],
        "mixpanel_installation_id": str(mixpanel.pk),
        "receiver_url": mixpanel.config.get("api_host", ""),
    }


@dataclass(frozen=True)
class SampleSent:
    sample: str
    topic: str
    status: int

    def as_dict(self) -> dict:
        return {"sample": self.sample, "topic": self.topic, "status": self.status}


def sign(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _sample_customers() -> set[str]:
    found = set()
    for name, _ in SAMPLE_TOPICS:
        customer = json.loads((SAMPLES / f"shopify-{name}.json").read_bytes()).get("customer")
        if isinstance(customer, dict) and customer.get("id"):
            found.add(str(customer["id"]))
    return found


def demo_users_ensure(*, shop: Installation) -> int:
    """Users linked to the samples' shoppers, so their purchases go out at once."""
    created = 0
    for external_id in sorted(_sample_customers()):
        email = f"shopper-{external_id}@demo.example"
        if Customer.objects.filter(email__iexact=email).exists():
            continue
        with transaction.atomic():
            customer_create(
                data=UserInput(email=email, identities=(IdentityRef(shop.pk, external_id),)),
                actor=DEMO_ACTOR,
            )
        created += 1
    return created


def _loopback_target(organisation: Organisation) -> tuple[str, str]:
    """(connect-to base URL, Host header) for the organisation on the local server."""
    base = urlsplit(settings.BASE_URL)
    if (base.hostname or "").lower() not in LOOPBACK:
        raise ApplicationError(
            detail="Sample webhooks are sent to a local development server only "
            f"(BASE_URL is {settings.BASE_URL}).",
            code="not_local",
        )
    port = f":{base.port}" if base.port else ""
    host = f"{organisation.slug}.{base.hostname}{port}"
    return f"{base.scheme}://127.0.0.1{port}", host


_TIMESTAMP = re.compile(rb'"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[+-]\d{2}:\d{2}|Z))"')


def _brought_forward(bodies: list[bytes]) -> list[bytes]:
    """The samples with every timestamp moved on by the same whole number of days.

    The newest lands within the last day, so the overview's charts (7 days at the
    shortest) show what the demo sent; order, gaps and times of day stay as they were.
    """
    stamps = [datetime.fromisoformat(m.decode()) for b in bodies for m in _TIMESTAMP.findall(b)]
    shift = timedelta(days=(timezone.now() - max(stamps)).days)

    def moved(match: re.Match) -> bytes:
        return b'"%s"' % (datetime.fromisoformat(match[1].decode()) + shift).isoformat().encode()

    return [_TIMESTAMP.sub(moved, body) for body in bodies]


def demo_webhooks_send(
    *, organisation: Organisation, shop: Installation, transport: httpx.BaseTransport | None = None
) -> list[SampleSent]:
    """Post every sample to the shop's ingest URL, signed as Shopify would sign it.

    `transport` replaces the network (tests hand the WSGI application in directly).
    """
    connect_to, host = _loopback_target(organisation)
    secret = read_secrets(shop)["webhook_secret"]
    path = f"/api/v1/integrations/shopify/{shop.pk}/webhooks"
    bodies = _brought_forward(
        [(SAMPLES / f"shopify-{name}.json").read_bytes() for name, _ in SAMPLE_TOPICS]
    )
    sent = []
    with httpx.Client(
        base_url=connect_to, timeout=POST_TIMEOUT_SECONDS, transport=transport
    ) as client:
        for (name, topic), body in zip(SAMPLE_TOPICS, bodies, strict=True):
            response = client.post(
                path,
                content=body,
                headers={
                    "Host": host,
                    "Content-Type": "application/json",
                    "X-Shopify-Topic": topic,
                    "X-Shopify-Hmac-Sha256": sign(body, secret),
                    "X-Shopify-Shop-Domain": shop.config["shop_domain"],
                    "X-Shopify-API-Version": "2025-07",
                    "X-Shopify-Webhook-Id": str(uuid.uuid5(shop.pk, name)),
                },
            )
            sent.append(SampleSent(name, topic, response.status_code))
    return sent
