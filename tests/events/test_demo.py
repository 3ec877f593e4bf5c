"""The demo: a shop and a local Mixpanel, then the signed samples travel end to end."""

from datetime import UTC, time, timedelta

import httpx
import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.errors import ApplicationError
from catalog_integrations.crypto import read_secrets
from catalog_integrations.models import Installation
from events.demo import demo_integrations_ensure, demo_users_ensure, demo_webhooks_send
from events.models import Purchase

from .dispatch_support import deliveries_of, sent_events


class TestClientTransport(httpx.BaseTransport):
    """httpx requests answered by Django's test client (inside the test's transaction)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        headers = {
            f"HTTP_{name.upper().replace('-', '_')}": value
            for name, value in request.headers.items()
            if name.lower() not in ("content-type", "content-length")
        }
        response = Client().generic(
            request.method,
            request.url.raw_path.decode(),
            data=request.read(),
            content_type=request.headers.get("content-type", ""),
            **headers,
        )
        return httpx.Response(response.status_code, content=response.content)


@pytest.fixture
def demo(acme, receiver, settings):
    settings.DEV_MIXPANEL_RECEIVER_URL = receiver.url
    with tenant_context(acme.organisation):
        return demo_integrations_ensure()


def test_the_demo_installations_are_made_once(acme, demo):
    with tenant_context(acme.organisation):
        again = demo_integrations_ensure()
        kinds = sorted(Installation.objects.values_list("integration", flat=True))
        shop = Installation.objects.get(pk=demo["shopify_installation_id"])

    assert again == demo
    assert kinds == ["mixpanel", "shopify"]
    assert demo["webhook_secret"] == read_secrets(shop)["webhook_secret"]
    assert demo["shop_domain"] == "demo-shop.myshopify.com"


def test_the_setup_command_prints_the_secret_and_the_receiver(acme, demo, capsys):
    call_command("setup_demo_integrations", organisation="acme", json=True)

    printed = capsys.readouterr().out
    assert demo["webhook_secret"] in printed
    assert demo["receiver_url"] in printed


def test_the_signed_samples_reach_the_receiver(
    acme, demo, receiver, queue, django_capture_on_commit_callbacks
):
    with tenant_context(acme.organisation):
        shop = Installation.objects.get(pk=demo["shopify_installation_id"])
        linked = demo_users_ensure(shop=shop)

    with django_capture_on_commit_callbacks(execute=True):
        sent = demo_webhooks_send(
            organisation=acme.organisation,
            shop=shop,
            transport=TestClientTransport(),
        )
    queue.run_dispatches()

    assert linked == 3
    assert [(s.sample, s.status) for s in sent] == [
        ("orders-paid", 200),
        ("refunds-create", 200),
        ("orders-cancelled", 200),
        ("orders-create", 200),
        ("orders-create-guest", 200),
    ]
    with tenant_context(acme.organisation):
        recorded = Purchase.objects.count()
    names = sorted(e["event"] for e in sent_events(receiver))
    # The paid order, its refund, and the refund inside the cancellation; the
    # orders/create samples are not this shop's purchase topic.
    assert (recorded, names) == (3, ["Purchase", "Refund", "Refund"])
    assert [d.state for d in deliveries_of(acme)] == ["delivered"] * 3


def test_the_samples_are_dated_within_the_last_week_in_their_own_order(
    acme, demo, django_capture_on_commit_callbacks
):
    """So the overview's charts (7 days at the shortest) show what the demo sent."""
    with tenant_context(acme.organisation):
        shop = Installation.objects.get(pk=demo["shopify_installation_id"])
        demo_users_ensure(shop=shop)

    with django_capture_on_commit_callbacks(execute=True):
        demo_webhooks_send(
            organisation=acme.organisation, shop=shop, transport=TestClientTransport()
        )

    now = timezone.now()
    with tenant_context(acme.organisation):
        recorded = list(Purchase.objects.order_by("occurred_at").values_list("kind", "occurred_at"))
    assert [kind for kind, _ in recorded] == ["purchase", "refund", "refund"]
    assert all(now - timedelta(days=7) < occurred <= now for _, occurred in recorded)
    # Shifted by whole days: the paid order (18 March, 14:02:35 -04:00) keeps its time of day.
    assert recorded[0][1].astimezone(UTC).time() == time(18, 2, 35)


def test_sample_webhooks_go_to_a_local_server_only(acme, demo, settings):
    settings.BASE_URL = "https://analytics.example.com"
    with tenant_context(acme.organisation):
        shop = Installation.objects.get(pk=demo["shopify_installation_id"])

    with pytest.raises(ApplicationError) as raised:
        demo_webhooks_send(organisation=acme.organisation, shop=shop)

    assert raised.value.code == "not_local"
