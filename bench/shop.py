"""Organisations with a Shopify shop and a Mixpanel project, and the shop's webhooks.

Organisations are provisioned and integrations installed through the product's own
services (the driving process has the product's settings, see `harness.django_setup`).
Webhooks are the shared `orders/paid` sample (13 KB) with a fresh order id and webhook
id each, signed as Shopify signs them.
"""

import base64
import hashlib
import hmac
import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from load import Request

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "events" / "samples"
SHOP_SECRET = "bench-shopify-secret"  # noqa: S105 - a made-up secret for a local run
SAMPLE_ORDER_ID = 6190245830011


@dataclass(frozen=True)
class BenchOrg:
    slug: str
    schema_name: str
    host: str
    shop_domain: str
    shopify_id: str
    mixpanel_id: str | None
    api_id: str | None = None
    api_key: str | None = None

    @property
    def webhook_path(self) -> str:
        return f"/api/v1/integrations/shopify/{self.shopify_id}/webhooks"


def provision(slug: str, *, receiver_url: str | None, api: bool = False) -> BenchOrg:
    """An organisation with a Shopify installation, given a receiver a Mixpanel one, and
    with `api` an API integration (for filling the outbox fast)."""
    from django_tenants.utils import tenant_context

    from accounts.actors import Actor
    from catalog_integrations.services import installation_create
    from tenants.services import organisation_create
    from tenants.urls import organisation_host

    actor = Actor.system("bench")
    created = organisation_create(
        slug=slug, name=slug, admin_email=f"admin@{slug}.test", actor=actor
    ).organisation
    shop_domain = f"{slug}.myshopify.com"
    with tenant_context(created):
        shopify = installation_create(
            integration="shopify",
            name="Shop",
            config={
                "shop_domain": shop_domain,
                "webhook_secret": SHOP_SECRET,
                "purchase_topic": "orders/paid",
            },
            actor=actor,
        ).installation
        mixpanel = None
        if receiver_url:
            mixpanel = installation_create(
                integration="mixpanel",
                name="Mixpanel",
                config={
                    "project_token": f"token-{slug}",
                    "api_secret": "bench-mixpanel-secret",
                    "region": "us",
                    "api_host": receiver_url,
                },
                actor=actor,
            ).installation
        api_installation = api_key = None
        if api:
            made = installation_create(
                integration="api", name="Back office", config={}, actor=actor
            )
            api_installation, api_key = made.installation, made.one_time["api_key"]
    return BenchOrg(
        api_id=str(api_installation.pk) if api_installation else None,
        api_key=api_key,
        slug=slug,
        schema_name=created.schema_name,
        host=organisation_host(slug).split(":")[0],
        shop_domain=shop_domain,
        shopify_id=str(shopify.pk),
        mixpanel_id=str(mixpanel.pk) if mixpanel else None,
    )


class OrderFactory:
    """Signed `orders/paid` webhooks with unique order ids.

    `guest=True` drops the customer, so the purchase goes out at once instead of
    waiting `IDENTITY_HOLD_SECONDS` for an identity.
    """

    def __init__(self, *, guest: bool):
        payload = json.loads((SAMPLES / "shopify-orders-paid.json").read_bytes())
        if guest:
            payload["customer"] = None
        body = json.dumps(payload, indent=2).encode()
        marker = f'"id": {SAMPLE_ORDER_ID},'.encode()
        assert body.count(marker) == 1, "the sample's order id must appear once"
        self._before, self._after = body.split(marker)
        self._ids = itertools.count(1)

    def body(self, order_id: int) -> bytes:
        return self._before + f'"id": {order_id},'.encode() + self._after

    def request(self, org: BenchOrg, order_id: int | None = None, webhook_id=None) -> Request:
        order_id = order_id if order_id is not None else next(self._ids)
        body = self.body(order_id)
        signature = base64.b64encode(
            hmac.new(SHOP_SECRET.encode(), body, hashlib.sha256).digest()
        ).decode()
        return Request(
            host=org.host,
            path=org.webhook_path,
            body=body,
            headers={
                "Content-Type": "application/json",
                "X-Shopify-Topic": "orders/paid",
                "X-Shopify-Hmac-Sha256": signature,
                "X-Shopify-Shop-Domain": org.shop_domain,
                "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            },
            key=(org.slug, str(order_id)),
        )

    def stream(
        self, org: BenchOrg, *, start: int, count: int | None = None, redelivery_every: int = 0
    ) -> Iterator[Request]:
        """Orders `start`, `start + 1`, ...; every `redelivery_every`-th request repeats
        the previous webhook (same webhook id), as Shopify does after a lost answer."""
        ids = itertools.count(start) if count is None else iter(range(start, start + count))
        for sent, order_id in enumerate(ids, 1):
            request = self.request(org, order_id)
            yield request
            if redelivery_every and sent % redelivery_every == 0:
                yield request


# The API integration's largest batch.
API_BATCH = 500


def api_batches(org: BenchOrg, *, start: int, count: int) -> Iterator[Request]:
    """Guest purchases through the API integration, `API_BATCH` a request."""
    for first in range(start, start + count, API_BATCH):
        last = min(first + API_BATCH, start + count)
        purchases = [
            {
                "event_id": f"bench-{n}",
                "order_id": str(n),
                "amount": "84.15",
                "currency": "USD",
                "occurred_at": "2025-03-18T14:02:37-04:00",
                "items": [{"sku": "SKU-1", "name": "Thing", "quantity": 1, "price": "84.15"}],
            }
            for n in range(first, last)
        ]
        yield Request(
            host=org.host,
            path=f"/api/v1/integrations/api/{org.api_id}/purchases",
            body=json.dumps({"purchases": purchases}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {org.api_key}"},
            key=(org.slug, tuple(str(n) for n in range(first, last))),
        )


def orders_of(key) -> list[tuple[str, str]]:
    """(organisation, order id) pairs a request carried (one webhook, or a batch)."""
    slug, orders = key
    return [(slug, o) for o in orders] if isinstance(orders, tuple) else [(slug, orders)]


def stored_orders(orgs: list[BenchOrg]) -> tuple[set, int]:
    """Every (organisation, order id) stored, and how many purchase rows hold them."""
    from django.db import close_old_connections, connection
    from django_tenants.utils import schema_context

    from events.models import Purchase

    close_old_connections()
    found, rows = set(), 0
    for org in orgs:
        with schema_context(org.schema_name):
            orders = list(Purchase.objects.values_list("order_id", flat=True))
        rows += len(orders)
        found.update((org.slug, o) for o in orders)
    connection.set_schema_to_public()
    return found, rows


def stored_counts(orgs: list[BenchOrg]) -> dict[str, dict]:
    """Per organisation: purchases, distinct order ids, deliveries by state."""
    from django.db import close_old_connections, connection
    from django.db.models import Count
    from django_tenants.utils import schema_context

    from events.models import Delivery, Purchase

    close_old_connections()
    counts = {}
    for org in orgs:
        with schema_context(org.schema_name):
            purchases = Purchase.objects.count()
            orders = Purchase.objects.values("order_id").distinct().count()
            states = dict(Delivery.objects.values_list("state").annotate(n=Count("id")).order_by())
        counts[org.slug] = {"purchases": purchases, "orders": orders, "deliveries": states}
    connection.set_schema_to_public()
    return counts
