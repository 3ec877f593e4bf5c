"""`seed_purchases`: realistic rows for trying and measuring the portal."""

import json

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context

from catalog_integrations.models import Installation
from events.models import Customer, Delivery, Identity, Purchase


def _seed(capsys, *args) -> dict:
    call_command("seed_purchases", *args, "--json")
    return json.loads(capsys.readouterr().out)


def test_it_seeds_purchases_refunds_deliveries_and_users(acme, capsys):
    result = _seed(capsys, "--organisation", "acme", "--count", "400", "--seed", "3")

    assert result["organisation"] == "acme"
    assert result["purchases"] == 400
    assert result["users"] == 80
    with tenant_context(acme.organisation):
        assert Purchase.objects.filter(kind="purchase").count() == 400
        assert Purchase.objects.filter(kind="refund").count() == result["refunds"]
        assert Purchase.objects.filter(kind="refund", parent__isnull=True).count() == 0
        assert Purchase.objects.filter(kind="refund", amount__gte=0).count() == 0
        assert Delivery.objects.count() == result["deliveries"] == 400 + result["refunds"]
        assert Customer.objects.count() == 80
        assert Identity.objects.count() == result["identities"]
        mixpanel = Installation.objects.get(integration="mixpanel")
        assert mixpanel.paused_at is not None
        assert set(Delivery.objects.values_list("destination_id", flat=True)) == {mixpanel.pk}
        assert set(Purchase.objects.values_list("currency", flat=True)) <= {"USD", "EUR", "GBP"}


def test_running_it_twice_adds_to_the_same_installations(acme, capsys):
    _seed(capsys, "--organisation", "acme", "--count", "50")
    _seed(capsys, "--organisation", "acme", "--count", "50")

    with tenant_context(acme.organisation):
        assert Purchase.objects.filter(kind="purchase").count() == 100
        assert Installation.objects.count() == 3


@pytest.mark.parametrize(
    "args, detail",
    [
        (["--organisation", "nobody"], "No organisation 'nobody'."),
        (["--organisation", "public"], "No organisation 'public'."),
        (["--organisation", "acme", "--count", "0"], "--count and --days must be positive."),
    ],
)
def test_bad_arguments_fail_with_a_clear_message(acme, capsys, args, detail):
    with pytest.raises(SystemExit) as exit_:
        call_command("seed_purchases", *args, "--json")

    assert exit_.value.code == 1
    assert json.loads(capsys.readouterr().out) == {"detail": detail, "code": "command_error"}
