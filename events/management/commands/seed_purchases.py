"""Seed an organisation with realistic shoppers, purchases, refunds and deliveries, fast.

For trying the portal and measuring it (`bench/portal.py`): rows are written with
`bulk_create` in batches, straight to the tables, without ingest or dispatch. The seeded
Mixpanel destination is paused so that no worker sends seeded deliveries anywhere.
"""

import random
import time
import uuid
from datetime import timedelta
from decimal import Decimal

from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.management.base import JsonCommand
from catalog_integrations.models import Installation
from events.models import (
    Customer,
    Delivery,
    DeliveryState,
    Identity,
    Purchase,
    PurchaseKind,
)
from events.services.deliveries import insert_id, pseudonymous_distinct_id
from tenants.models import Organisation

# Rows per INSERT: big enough to amortise round trips, small enough for memory.
BATCH_SIZE = 5000
SHOPPERS_PER_PURCHASE = 0.2  # a shopper buys five times on average
GUEST_SHARE = 0.15
UNKNOWN_SHARE = 0.02  # purchases by shoppers no identity names: held, then pseudonymous
# Purchases of unknown shoppers this recent are still held (as if the hold were longer).
HELD_WITHIN = timedelta(days=2)
REFUND_SHARE = 0.05
IDENTIFIED_SHARE = 0.8  # shoppers with an identity on the shop
CURRENCIES = (("USD", 60), ("EUR", 25), ("GBP", 15))
# Outcomes of deliveries older than an hour; newer ones may still be on their way.
SETTLED_STATES = (
    (DeliveryState.DELIVERED, 970),
    (DeliveryState.FAILED, 10),
    (DeliveryState.DEAD, 10),
    (DeliveryState.REJECTED, 10),
)
PRODUCTS = (
    ("TEE-BLK-M", "Black tee, M", "19.00"),
    ("TEE-WHT-L", "White tee, L", "19.00"),
    ("HOOD-GRY", "Grey hoodie", "49.00"),
    ("MUG-01", "Enamel mug", "12.50"),
    ("CAP-NVY", "Navy cap", "22.00"),
    ("SOCK-3P", "Socks, three pairs", "9.90"),
)
FIRST_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jon")
LAST_NAMES = ("Adams", "Berg", "Costa", "Dubois", "Eze", "Fischer", "Garcia", "Haddad")


def _weighted(rng: random.Random, table) -> str:
    values, weights = zip(*table, strict=True)
    return rng.choices(values, weights)[0]


def _batches(rows: list, size: int = BATCH_SIZE):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class Command(JsonCommand):
    help = "Seed an organisation with purchases, refunds, deliveries and users (bulk inserts)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--organisation", required=True, help="The organisation's slug.")
        parser.add_argument("--count", type=int, default=100_000, help="Purchases to add.")
        parser.add_argument("--days", type=int, default=90, help="Spread over this many days.")
        parser.add_argument("--seed", type=int, default=None, help="Random seed (repeatable).")

    def run(self, **options) -> dict:
        organisation = Organisation.objects.filter(slug=options["organisation"]).first()
        if organisation is None or organisation.schema_name == "public":
            raise CommandError(f"No organisation '{options['organisation']}'.")
        if options["count"] < 1 or options["days"] < 1:
            raise CommandError("--count and --days must be positive.")
        started = time.perf_counter()
        rng = random.Random(options["seed"])  # noqa: S311 - sample data, not secrets
        try:
            with schema_context(organisation.schema_name):
                counts = self._seed(
                    schema_name=organisation.schema_name,
                    count=options["count"],
                    days=options["days"],
                    rng=rng,
                )
                # Fresh statistics for the planner, and a visibility map so the covering
                # indexes are read without visiting the table (VACUUM cannot run inside a
                # transaction, as under tests).
                command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
                with connection.cursor() as cursor:
                    for model in (Customer, Identity, Purchase, Delivery):
                        table = connection.ops.quote_name(model._meta.db_table)
                        cursor.execute(f"{command} {table}")
        finally:
            connection.set_schema_to_public()
        return {
            "organisation": organisation.slug,
            **counts,
            "seconds": round(time.perf_counter() - started, 1),
        }

    def _installations(self, slug: str) -> tuple[Installation, Installation, Installation]:
        shop, _ = Installation.objects.get_or_create(
            unique_key=f"seed-{slug}.myshopify.com",
            defaults={
                "integration": "shopify",
                "name": "Seeded shop",
                "config": {"shop_domain": f"seed-{slug}.myshopify.com"},
                "created_by": "seed_purchases",
            },
        )
        api = Installation.objects.filter(integration="api", name="Seeded back office").first()
        api = api or Installation.objects.create(
            integration="api", name="Seeded back office", created_by="seed_purchases"
        )
        mixpanel = Installation.objects.filter(integration="mixpanel", name="Seeded Mixpanel")
        mixpanel = mixpanel.first() or Installation.objects.create(
            integration="mixpanel",
            name="Seeded Mixpanel",
            config={"region": "us"},
            paused_at=timezone.now(),
            paused_reason="Seeded data: never sent.",
            created_by="seed_purchases",
        )
        return shop, api, mixpanel

    def _seed(self, *, schema_name: str, count: int, days: int, rng: random.Random) -> dict:
        now = timezone.now()
        run = uuid.uuid4().hex[:8]
        shop, api, mixpanel = self._installations(schema_name)

        shoppers = []
        identities = []
        for n in range(max(int(count * SHOPPERS_PER_PURCHASE), 1)):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            shopper = Customer(
                email=f"{first}.{last}.{run}{n}@seed.example".lower(),
                name=f"{first} {last}",
                created_at=now - timedelta(days=rng.uniform(0, days + 30)),
            )
            shoppers.append(shopper)
            if rng.random() < IDENTIFIED_SHARE:
                identities.append(
                    Identity(customer=shopper, installation=shop, external_id=f"{run}-{n}")
                )
        with transaction.atomic():
            for batch in _batches(shoppers):
                Customer.objects.bulk_create(batch)
            for batch in _batches(identities):
                Identity.objects.bulk_create(batch)
        identified = [(i.customer, i.external_id) for i in identities]

        order_base = int(run, 16) * 10_000_000  # numeric like a shop's, unique per run
        purchases, refunds, deliveries = [], [], []
        for n in range(count):
            occurred = now - timedelta(seconds=rng.uniform(0, days * 86400))
            source = shop if rng.random() < 0.7 else api
            currency = _weighted(rng, CURRENCIES)
            items = [
                {"sku": sku, "name": name, "quantity": rng.randint(1, 3), "price": price}
                for sku, name, price in rng.sample(PRODUCTS, rng.randint(1, 3))
            ]
            amount = sum(Decimal(i["price"]) * i["quantity"] for i in items)
            customer, external = None, ""
            roll = rng.random()
            if roll < UNKNOWN_SHARE:
                external = f"{run}-unknown-{n}"  # a shopper no identity names (held)
            elif roll >= GUEST_SHARE and identified:
                customer, external = rng.choice(identified)
            order_id = str(order_base + n)
            purchase = Purchase(
                installation=source,
                kind=PurchaseKind.PURCHASE,
                dedupe_key=order_id if source is shop else f"evt-{run}-{n}",
                event_id="" if source is shop else f"evt-{run}-{n}",
                order_id=order_id,
                customer=customer,
                external_customer_id=external if source is shop else "",
                amount=amount,
                currency=currency,
                occurred_at=occurred,
                received_at=occurred + timedelta(seconds=rng.uniform(0.2, 5)),
                status="paid",
                items=items,
            )
            purchases.append(purchase)
            refund_at = occurred + timedelta(days=rng.uniform(0.1, 10))
            if rng.random() < REFUND_SHARE and refund_at < now:
                refunded = min(amount, Decimal(rng.choice(PRODUCTS)[2]))
                refunds.append(
                    Purchase(
                        installation=source,
                        kind=PurchaseKind.REFUND,
                        parent=purchase,
                        dedupe_key=f"refund-{order_id}",
                        order_id=order_id,
                        customer=customer,
                        external_customer_id=purchase.external_customer_id,
                        amount=-refunded,
                        currency=currency,
                        occurred_at=refund_at,
                        received_at=refund_at + timedelta(seconds=1),
                        status="refunded",
                    )
                )

        for purchase in purchases + refunds:
            recent = now - purchase.received_at < HELD_WITHIN
            state = _weighted(rng, SETTLED_STATES)
            if recent and purchase.external_customer_id and purchase.customer is None:
                state = DeliveryState.AWAITING_IDENTITY
            if purchase.customer:
                distinct_id = str(purchase.customer.pk)
            elif purchase.external_customer_id:
                distinct_id = pseudonymous_distinct_id(
                    purchase.installation_id, purchase.external_customer_id
                )
            else:
                distinct_id = ""  # a guest checkout
            deliveries.append(
                Delivery(
                    purchase=purchase,
                    destination=mixpanel,
                    state=state,
                    attempts=0 if state == DeliveryState.AWAITING_IDENTITY else rng.randint(1, 2),
                    next_attempt_at=(
                        now + timedelta(minutes=15)
                        if state == DeliveryState.AWAITING_IDENTITY
                        else None
                    ),
                    distinct_id=None if state == DeliveryState.AWAITING_IDENTITY else distinct_id,
                    event_time=purchase.occurred_at,
                    insert_id=insert_id(
                        schema_name=schema_name,
                        purchase_id=purchase.pk,
                        destination_id=mixpanel.pk,
                    ),
                    last_error=""
                    if state == DeliveryState.DELIVERED
                    else "Seeded failure: 400 invalid event",
                    delivered_at=purchase.received_at + timedelta(seconds=3)
                    if state == DeliveryState.DELIVERED
                    else None,
                    created_at=purchase.received_at,
                )
            )

        for rows in (purchases, refunds, deliveries):
            model = type(rows[0]) if rows else None
            for batch in _batches(rows):
                with transaction.atomic():
                    model.objects.bulk_create(batch)

        return {
            "purchases": len(purchases),
            "refunds": len(refunds),
            "deliveries": len(deliveries),
            "users": len(shoppers),
            "identities": len(identities),
        }
