"""Odd JSON numbers sent to the users API: refused, never stored as text like "nan"."""

import json

import pytest
from django_tenants.utils import tenant_context

from events.models import Customer, Identity
from tests.accounts.factories import api_credentials
from tests.events.users_support import installation


@pytest.mark.parametrize("number", ["NaN", "-Infinity", "1e400", "1.0", "1e20"])
def test_an_external_id_that_is_not_a_whole_number_is_422(acme, number):
    shop = installation(acme)
    api = api_credentials(acme, "users:write").client()
    body = f'{{"identities": [{{"installation_id": "{shop.pk}", "external_id": {number}}}]}}'

    response = api.post("/api/v1/users", body, content_type="application/json")

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "identities.0.external_id", "message": "Must be text or a whole number."}
    ]
    with tenant_context(acme.organisation):
        assert Customer.objects.count() == 0


def test_bulk_refuses_a_nan_external_id_item_and_stores_no_identity(acme):
    shop = installation(acme)
    api = api_credentials(acme, "users:write").client()
    body = (
        f'{{"users": [{{"identities": [{{"installation_id": "{shop.pk}", "external_id": NaN}}]}}]}}'
    )

    response = api.post("/api/v1/users/bulk", body, content_type="application/json")

    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["status"] == "error"
    assert result["error"]["errors"] == [
        {"field": "identities.0.external_id", "message": "Must be text or a whole number."}
    ]
    with tenant_context(acme.organisation):
        assert Identity.objects.count() == 0


def test_a_whole_number_external_id_larger_than_a_bigint_is_kept_exactly(acme):
    shop = installation(acme)
    api = api_credentials(acme, "users:write").client()
    body = {"identities": [{"installation_id": str(shop.pk), "external_id": 2**70}]}

    response = api.post("/api/v1/users", json.dumps(body), content_type="application/json")

    assert response.status_code == 201
    assert response.json()["identities"][0]["external_id"] == "1180591620717411303424"
