"""Batches that overlap, written at the same moment, wait on each other; neither deadlocks.

`purchase_record` sorts its purchases by unique key so that racing writers take the
key locks in one order. The write joins the rows to the shoppers' identities, and on
a batch with many shoppers PostgreSQL hashes the rows and walks the identities; the
write must still insert them in the sorted order, not the join's.

In the race, three transactions, each on its own connection, commit for real. The
first holds a key both batches need; each batch is let in only once the one before it
is waiting on that key, so both hold what they inserted before it when the first one
commits.
"""

import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from accounts.actors import Actor
from catalog_integrations.sources import ingest_source
from events.ingest import PurchaseEvent
from events.models import Customer, Identity, Purchase
from events.services.purchases import purchase_record
from tests.events.ingest_support import api_install

ACTOR = Actor.system("tests")
OCCURRED_AT = datetime(2025, 3, 18, 14, 2, 35, tzinfo=UTC)
KNOWN_SHOPPERS = 3000
BIG_BATCH = 400
JOIN_SECONDS = 30
# How often (and how many times) the test looks whether a batch is waiting on a lock.
POLL_SECONDS = 0.05
POLLS = 400


def _event(key: str) -> PurchaseEvent:
    return PurchaseEvent(
        kind="purchase",
        dedupe_key=key,
        event_id=key,
        amount=Decimal("1.00"),
        currency="EUR",
        occurred_at=OCCURRED_AT,
        external_customer_id=f"shopper-{key}",
    )


def _record(org, installation, keys: list[str]) -> None:
    purchase_record(
        organisation=org.organisation,
        source=ingest_source(str(installation.pk), "api", fresh=True),
        events=[_event(key) for key in keys],
        actor=ACTOR,
    )


def _insert_order(org, installation, keys: list[str]) -> list[str]:
    """The order the write inserts `keys` in, learnt from a rolled-back run.

    The table is emptied first (rolled back too): into a new, empty heap, rows go one
    after another, so their physical order is the order they were inserted in.
    """
    with tenant_context(org.organisation), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE events_purchase CASCADE")
        _record(org, installation, keys)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT dedupe_key FROM events_purchase WHERE installation_id = %s ORDER BY ctid",
                [installation.pk],
            )
            order = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)
    return order


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _until_waiting(count: int) -> None:
    for _ in range(POLLS):
        if _waiting_on_locks() >= count:
            return
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"Fewer than {count} transactions ever waited on a lock.")


def _known_shoppers(org, installation) -> None:
    with tenant_context(org.organisation):
        customers = Customer.objects.bulk_create(
            [Customer(email=f"known-{n}@example.com") for n in range(KNOWN_SHOPPERS)]
        )
        Identity.objects.bulk_create(
            [
                Identity(customer=customer, installation=installation, external_id=f"known-{n}")
                for n, customer in enumerate(customers)
            ]
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE events_identity")


def test_a_big_batch_with_many_known_shoppers_is_inserted_in_key_order(acme):
    installation, _ = api_install(acme)
    _known_shoppers(acme, installation)
    # Given out of order: the service sorts them.
    big = [f"k{n:03d}" for n in reversed(range(BIG_BATCH))]

    order = _insert_order(acme, installation, big)

    assert order == sorted(big)


@pytest.mark.django_db(transaction=True)
def test_a_big_and_a_small_batch_sharing_keys_both_succeed_when_they_race(acme):
    installation, _ = api_install(acme)
    _known_shoppers(acme, installation)
    big = [f"k{n:03d}" for n in range(BIG_BATCH)]
    a, z, b = big[0], big[BIG_BATCH // 2], big[-1]
    small = [a, z, b]

    held = threading.Event()
    holder_may_commit = threading.Event()
    failures: list[BaseException] = []

    def holder():
        with tenant_context(acme.organisation), transaction.atomic():
            _record(acme, installation, [z])
            held.set()
            holder_may_commit.wait(JOIN_SECONDS)

    def batch(keys):
        def run():
            with tenant_context(acme.organisation):
                _record(acme, installation, keys)

        return run

    def guarded(target):
        def run():
            try:
                target()
            except BaseException as error:  # noqa: BLE001 - reported by the assertion
                failures.append(error)
            finally:
                connection.close()

        return threading.Thread(target=run)

    threads = [guarded(holder), guarded(batch(big)), guarded(batch(small))]
    threads[0].start()
    assert held.wait(JOIN_SECONDS)
    threads[1].start()
    _until_waiting(1)
    threads[2].start()
    _until_waiting(2)
    holder_may_commit.set()
    for thread in threads:
        thread.join(JOIN_SECONDS)

    assert [str(error).splitlines()[0] for error in failures] == []
    with tenant_context(acme.organisation):
        assert Purchase.objects.filter(installation=installation).count() == BIG_BATCH
