"""Rows for the portal tests, written straight to the models inside an organisation.

`portal_rows(org)` gives each organisation the same shape of data (a shop, an API
source, a Mixpanel destination, a known shopper, a guest, a held shopper, a refund and
a raw webhook body full of personal data), with values that name the organisation, so a
page that leaked another organisation's rows would show them.
"""

import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Member, Role
from catalog_integrations.models import Installation
from events.models import (
    Customer,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    Identity,
    Purchase,
    PurchaseKind,
    WebhookReceipt,
)

VIEWER_PASSWORD = "viewer-password-123"


@dataclass
class PortalRows:
    shop: Installation
    api: Installation
    mixpanel: Installation
    shopper: Customer
    paid: Purchase
    refund: Purchase
    guest: Purchase
    held: Purchase
    paid_delivery: Delivery
    guest_delivery: Delivery
    held_delivery: Delivery

    def personal_values(self) -> list[str]:
        """Every personal value these rows hold in clear, as a page would print it."""
        return [
            self.shopper.email,
            self.shopper.name,
            f"buyer@{self.slug}.example",
            "Bill Example",
            "1 Example Billing Street",
            "+1-555-0100",
            "Exampletown",
        ]

    @property
    def slug(self) -> str:
        return self.shopper.email.split("@")[1].split(".")[0]


def _order_body(slug: str, order_id: str, customer_id: str) -> bytes:
    return json.dumps(
        {
            "id": int(order_id),
            "email": f"buyer@{slug}.example",
            "contact_email": f"buyer@{slug}.example",
            "total_price": "25.00",
            "currency": "USD",
            "line_items": [{"name": "IPod Nano - 8GB", "sku": "IPOD", "price": "25.00"}],
            "billing_address": {
                "first_name": "Bill",
                "name": "Bill Example",
                "address1": "1 Example Billing Street",
                "phone": "+1-555-0100",
                "city": "Exampletown",
                "country_code": "US",
            },
            "customer": {"id": int(customer_id), "email": f"shopper@{slug}.example"},
        }
    ).encode()


def portal_rows(org, *, now=None) -> PortalRows:
    now = now or timezone.now()
    slug = org.slug
    base = 1000 if slug == "acme" else 2000
    with tenant_context(org.organisation):
        shop = Installation.objects.create(
            integration="shopify", name=f"{slug} shop", unique_key=f"{slug}.myshopify.com"
        )
        api = Installation.objects.create(integration="api", name=f"{slug} back office")
        mixpanel = Installation.objects.create(integration="mixpanel", name=f"{slug} Mixpanel")
        shopper = Customer.objects.create(
            email=f"shopper@{slug}.example", name=f"Alice {slug.title()}son"
        )
        Identity.objects.create(customer=shopper, installation=shop, external_id=f"{base}77")

        def purchase(order_id, amount, currency, **fields):
            return Purchase.objects.create(
                installation=fields.pop("installation", shop),
                kind=fields.pop("kind", PurchaseKind.PURCHASE),
                dedupe_key=fields.pop("dedupe_key", order_id),
                order_id=order_id,
                amount=Decimal(amount),
                currency=currency,
                occurred_at=fields.pop("occurred_at", now - timedelta(hours=2)),
                **fields,
            )

        paid = purchase(
            f"{base}1",
            "25.00",
            "USD",
            customer=shopper,
            external_customer_id=f"{base}77",
            properties={"note": f"gift for shopper@{slug}.example"},
            items=[{"sku": "IPOD", "name": "IPod Nano - 8GB", "quantity": 1, "price": "25.00"}],
        )
        refund = purchase(
            f"{base}1",
            "-5.00",
            "USD",
            kind=PurchaseKind.REFUND,
            dedupe_key=f"r{base}1",
            parent=paid,
            customer=shopper,
            occurred_at=now - timedelta(hours=1),
        )
        guest = purchase(f"{base}2", "10.00", "EUR", occurred_at=now - timedelta(days=1))
        held = purchase(
            f"{base}3", "7.50", "USD", external_customer_id=f"{base}99", occurred_at=now
        )

        def delivery(purchase, state, **fields):
            return Delivery.objects.create(
                purchase=purchase,
                destination=mixpanel,
                state=state,
                insert_id=f"{purchase.pk}"[:36],
                **fields,
            )

        paid_delivery = delivery(paid, DeliveryState.DELIVERED, attempts=1, delivered_at=now)
        delivery(refund, DeliveryState.DELIVERED, attempts=1, delivered_at=now)
        guest_delivery = delivery(
            guest, DeliveryState.DEAD, attempts=12, last_error=f"400 for buyer@{slug}.example"
        )
        held_delivery = delivery(
            held, DeliveryState.AWAITING_IDENTITY, next_attempt_at=now + timedelta(minutes=15)
        )
        DeliveryAttempt.objects.create(
            delivery=paid_delivery, status_code=200, outcome=DeliveryState.DELIVERED
        )
        WebhookReceipt.objects.create(
            installation=shop,
            webhook_id=f"wh-{base}1",
            topic="orders/paid",
            body=_order_body(slug, f"{base}1", f"{base}77"),
            order_id=f"{base}1",
            external_customer_id=f"{base}77",
        )
    return PortalRows(
        shop=shop,
        api=api,
        mixpanel=mixpanel,
        shopper=shopper,
        paid=paid,
        refund=refund,
        guest=guest,
        held=held,
        paid_delivery=paid_delivery,
        guest_delivery=guest_delivery,
        held_delivery=held_delivery,
    )


def add_viewer(org, email: str = "viewer@members.test") -> Member:
    with tenant_context(org.organisation):
        return Member.objects.create_user(email=email, password=VIEWER_PASSWORD, role=Role.VIEWER)


def many_purchases(org, installation, count: int, *, start=None, **fields) -> list[Purchase]:
    """`count` purchases a minute apart, newest first, each with one delivered delivery."""
    start = start or timezone.now()
    destination = fields.pop("destination", None)
    with tenant_context(org.organisation):
        purchases = Purchase.objects.bulk_create(
            [
                Purchase(
                    installation=installation,
                    kind=PurchaseKind.PURCHASE,
                    dedupe_key=f"bulk-{n}",
                    order_id=f"9{n:05d}",
                    amount=Decimal("1.00"),
                    currency="USD",
                    occurred_at=start - timedelta(minutes=n),
                    **fields,
                )
                for n in range(count)
            ]
        )
        if destination is not None:
            Delivery.objects.bulk_create(
                [
                    Delivery(
                        purchase=p,
                        destination=destination,
                        state=DeliveryState.DELIVERED,
                        insert_id=str(p.pk),
                    )
                    for p in purchases
                ]
            )
    return purchases


def queries_for(client, url: str) -> int:
    """How many SQL statements one request runs (the session's and routing's included)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)
