"""Response times of the portal's list pages and overview, on a seeded organisation.

    .venv/bin/python manage.py seed_purchases --organisation bench --count 100000
    .venv/bin/python bench/portal.py --organisation bench

Requests go through Django's whole stack (middleware, sessions, templates) in this
process, signed in as the organisation's first admin; each page is requested once to
warm up, then `--repeat` times. Prints the median and slowest time and the query count.
The overview's charts are drawn on every request (their 30-second cache is off) except
in the row marked "charts cached".
The target is under 300 ms for each page.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from accounts.models import Member, Role  # noqa: E402
from events.models import Customer, Delivery, DeliveryState, Identity, Purchase  # noqa: E402
from events.pages import overview as overview_pages  # noqa: E402
from tenants.models import Organisation  # noqa: E402
from tenants.urls import organisation_host  # noqa: E402

TARGET_MS = 300


def _pages(organisation: Organisation) -> list[tuple[str, str]]:
    """(label, path) for every list page, some filters, a deep page and the overview."""
    with schema_context(organisation.schema_name):
        newest = Purchase.objects.order_by("-occurred_at", "-id").first()
        middle = Purchase.objects.order_by("-occurred_at", "-id")[50_000:50_001].first()
        source = newest.installation_id
        shopper = Customer.objects.filter(purchases__isnull=False).order_by("-created_at").first()
        identity = Identity.objects.order_by("-created_at").first()
        held = Delivery.objects.filter(state=DeliveryState.AWAITING_IDENTITY).count()
    deep = f"{middle.occurred_at.isoformat()}~{middle.pk}" if middle else ""
    day = newest.occurred_at.date()
    return [
        ("overview (30 days)", "/"),
        ("overview (30 days), charts cached", "/#cached"),
        ("overview (90 days)", "/?days=90"),
        ("overview (365 days)", "/?days=365"),
        ("live activity poll, nothing new", "/activity/?since=__current__"),
        ("live activity, changed", "/activity/"),
        ("purchases", "/purchases/"),
        ("purchases, 100 per page", "/purchases/?size=100"),
        ("purchases, page 1,000 (keyset)", f"/purchases/?older={deep}"),
        ("purchases, by source", f"/purchases/?installation={source}"),
        ("purchases, dead deliveries", "/purchases/?state=dead"),
        ("purchases, delivered", "/purchases/?state=delivered"),
        ("purchases, refunds", "/purchases/?kind=refund"),
        ("purchases, by shopper email", f"/purchases/?shopper={shopper.email}"),
        ("purchases, one day", f"/purchases/?date_from={day}&date_to={day}"),
        ("purchases, order id", f"/purchases/?order_id={newest.order_id}"),
        ("purchase detail", f"/purchases/{newest.pk}/"),
        (f"held purchases ({held} held)", "/held/"),
        ("users", "/users/"),
        ("users, email prefix", f"/users/?q={shopper.email[:6]}"),
        ("users, identity", f"/users/?q={identity.external_id}"),
        ("user detail", f"/users/{shopper.pk}/"),
        ("team", "/team/"),
        ("audit log", "/audit/"),
    ]


def _client(organisation: Organisation) -> Client:
    client = Client(HTTP_HOST=organisation_host(organisation.slug))
    with schema_context(organisation.schema_name):
        admin = Member.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk").first()
        client.force_login(admin)
    connection.set_schema_to_public()
    return client


def _current_fingerprint(organisation: Organisation) -> str:
    from events.selectors.overview import activity_fingerprint

    with schema_context(organisation.schema_name):
        return activity_fingerprint()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organisation", default="bench")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    organisation = Organisation.objects.get(slug=args.organisation)
    with schema_context(organisation.schema_name):
        purchases = Purchase.objects.count()
        deliveries = Delivery.objects.count()
    client = _client(organisation)
    fingerprint = _current_fingerprint(organisation)

    print(f"organisation {organisation.slug}: {purchases} purchases, {deliveries} deliveries")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load} (other work on the machine slows this)")
    print(f"each page: 1 warm-up, then {args.repeat} requests; target < {TARGET_MS} ms\n")
    print(f"{'page':<40} {'status':>6} {'median ms':>10} {'max ms':>8} {'queries':>8}")
    slow = 0
    for label, path in _pages(organisation):
        path = path.replace("__current__", fingerprint)
        # The overview caches its charts; measure them drawn, except where labelled.
        overview_pages.CHARTS_CACHE_SECONDS = 30 if path.endswith("#cached") else 0
        path = path.removesuffix("#cached")
        client.get(path)
        times = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
        median = statistics.median(times)
        slow += median >= TARGET_MS
        print(
            f"{label:<40} {response.status_code:>6} {median:>10.1f} {max(times):>8.1f} "
            f"{len(queries):>8}"
        )
    print(f"\n{slow} page(s) at or over {TARGET_MS} ms")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
