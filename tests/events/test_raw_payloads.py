from datetime import timedelta

from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone
from django_q.models import Schedule
from django_tenants.utils import tenant_context

from events.models import Purchase, WebhookReceipt
from events.schedules import ensure_after_migrate
from events.tasks import raw_payloads_prune

from .ingest_support import post_sample, shopify_install


def _age_receipts(org, days: int) -> None:
    with tenant_context(org.organisation):
        WebhookReceipt.objects.update(received_at=timezone.now() - timedelta(days=days))


@override_settings(RAW_PAYLOAD_RETENTION_DAYS=7)
def test_raw_bodies_older_than_the_retention_are_pruned_in_every_organisation(acme, borealis):
    acme_shop = shopify_install(acme)
    borealis_shop = shopify_install(borealis)
    post_sample(acme.client(), acme_shop, "orders-paid")
    post_sample(borealis.client(), borealis_shop, "orders-paid")
    _age_receipts(acme, 8)
    _age_receipts(borealis, 6)
    post_sample(acme.client(), acme_shop, "refunds-create")

    pruned = raw_payloads_prune()

    assert pruned == {"acme": 1}
    assert connection.schema_name == "public"
    with tenant_context(acme.organisation):
        assert list(WebhookReceipt.objects.values_list("topic", flat=True)) == ["refunds/create"]
        assert Purchase.objects.count() == 2
    with tenant_context(borealis.organisation):
        assert WebhookReceipt.objects.count() == 1


def test_a_pruned_redelivery_is_still_caught_by_the_order_id(acme):
    shop = shopify_install(acme)
    post_sample(acme.client(), shop, "orders-paid")
    _age_receipts(acme, 30)
    raw_payloads_prune()

    response = post_sample(acme.client(), shop, "orders-paid")

    assert response.json() == {"status": "unchanged"}
    with tenant_context(acme.organisation):
        assert Purchase.objects.count() == 1


def test_the_prune_is_scheduled_daily_after_migrations(db):
    ensure_after_migrate(sender=None)

    schedule = Schedule.objects.get(name="raw-payloads-prune")
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "events.tasks.raw_payloads_prune",
        Schedule.DAILY,
        -1,
    )
