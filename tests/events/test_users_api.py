import json
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import AuditEntry
from events.models import Customer, Identity, Purchase
from tests.accounts.factories import api_credentials
from tests.events.users_support import identity, installation, users_with_identities

USERS = "/api/v1/users"
BULK = "/api/v1/users/bulk"


def _post(client, path, body):
    return client.post(path, body, content_type="application/json")


def _patch(client, path, body):
    return client.patch(path, body, content_type="application/json")


def _count_users(org) -> int:
    with tenant_context(org.organisation):
        return Customer.objects.count()


# Create ---------------------------------------------------------------------------------


def test_create_a_user_with_a_shopify_identity_answers_201_with_the_user(acme):
    shop = installation(acme)
    api = api_credentials(acme).client()

    response = _post(
        api,
        USERS,
        {
            "email": "jane@example.com",
            "name": "Jane",
            "properties": {"plan": "gold", "visits": 3},
            "identities": [identity(shop.pk, "207119551")],
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "jane@example.com"
    assert body["name"] == "Jane"
    assert body["properties"] == {"plan": "gold", "visits": 3}
    assert body["identities"] == [{"installation_id": str(shop.pk), "external_id": "207119551"}]
    assert set(body) == {
        "id",
        "email",
        "name",
        "properties",
        "identities",
        "created_at",
        "updated_at",
    }
    with tenant_context(acme.organisation):
        assert Identity.objects.get().customer_id == uuid.UUID(body["id"])


def test_a_numeric_external_id_is_kept_as_text(acme):
    shop = installation(acme)
    api = api_credentials(acme).client()

    response = _post(
        api, USERS, {"identities": [{"installation_id": str(shop.pk), "external_id": 42}]}
    )

    assert response.status_code == 201
    assert response.json()["identities"][0]["external_id"] == "42"


def test_create_needs_an_email_or_an_identity(acme):
    api = api_credentials(acme).client()

    response = _post(api, USERS, {"name": "Nobody"})

    assert response.status_code == 422
    assert response.json() == {
        "detail": "The user is not valid.",
        "code": "validation_error",
        "errors": [
            {"field": "email", "message": "A user needs an email or at least one identity."}
        ],
    }
    assert _count_users(acme) == 0


def test_an_invalid_email_is_422_naming_the_field(acme):
    api = api_credentials(acme).client()

    response = _post(api, USERS, {"email": "not-an-email"})

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "email", "message": "Enter a valid email address."}
    ]


def test_unknown_fields_are_422_naming_the_field(acme):
    api = api_credentials(acme).client()

    response = _post(api, USERS, {"emial": "jane@example.com"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "emial"


def test_text_postgres_cannot_store_is_422_not_500(acme):
    api = api_credentials(acme).client()

    nul = _post(api, USERS, {"email": "a@example.com", "name": "a\x00b"})
    surrogate = api.post(
        USERS, '{"email": "a@example.com", "name": "a\\ud800b"}', content_type="application/json"
    )
    nan = api.post(
        USERS,
        '{"email": "a@example.com", "properties": {"x": NaN}}',
        content_type="application/json",
    )
    nul_key = _post(api, USERS, {"email": "a@example.com", "properties": {"a\x00": 1}})

    assert [r.status_code for r in (nul, surrogate, nan, nul_key)] == [422, 422, 422, 422]
    assert nul.json()["errors"] == [
        {"field": "name", "message": "Must not contain NUL characters."}
    ]
    assert nan.json()["errors"] == [{"field": "properties", "message": "Numbers must be finite."}]
    assert _count_users(acme) == 0


def test_deeply_nested_properties_are_refused(acme):
    api = api_credentials(acme).client()
    nested: dict = {"leaf": 1}
    for _ in range(20):
        nested = {"a": nested}

    response = _post(api, USERS, {"email": "a@example.com", "properties": nested})

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "properties", "message": "Nest at most 16 levels deep."}
    ]


def test_a_body_that_is_not_json_is_400_in_the_error_body(acme):
    api = api_credentials(acme).client()

    response = api.post(USERS, '{"email": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


@pytest.mark.parametrize("external_id", ["abc\u0007", "line\nbreak", "tab\there"])
def test_an_external_id_with_a_control_character_is_422(acme, external_id):
    shop = installation(acme)
    api = api_credentials(acme).client()

    response = _post(api, USERS, {"identities": [identity(shop.pk, external_id)]})

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "identities.0.external_id",
            "message": "Must not contain control characters.",
        }
    ]
    assert _count_users(acme) == 0


def test_an_identity_on_a_destination_installation_is_422(acme):
    mixpanel = installation(acme, "mixpanel", "Mixpanel")
    api = api_credentials(acme).client()

    response = _post(api, USERS, {"identities": [identity(mixpanel.pk, "1")]})

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "identities.0.installation_id",
            "message": "No source installation of this organisation has this id.",
        }
    ]
    assert _count_users(acme) == 0


def test_an_identity_on_another_organisations_installation_is_422(acme, borealis):
    borealis_shop = installation(borealis)
    api = api_credentials(acme).client()

    response = _post(
        api, USERS, {"email": "j@example.com", "identities": [identity(borealis_shop.pk, "1")]}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "identities.0.installation_id"
    assert _count_users(acme) == 0


def test_an_identity_on_an_unknown_installation_is_422(acme):
    api = api_credentials(acme).client()

    response = _post(api, USERS, {"identities": [identity(uuid.uuid4(), "1")]})

    assert response.status_code == 422


def test_an_identity_listed_twice_is_422(acme):
    shop = installation(acme)
    api = api_credentials(acme).client()

    response = _post(api, USERS, {"identities": [identity(shop.pk, "1"), identity(shop.pk, "1")]})

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "identities.1", "message": "This identity is listed twice."}
    ]


def test_an_identity_taken_by_another_user_is_409_and_nothing_is_written(acme):
    shop = installation(acme)
    api = api_credentials(acme).client()
    assert _post(api, USERS, {"identities": [identity(shop.pk, "7")]}).status_code == 201

    response = _post(
        api, USERS, {"email": "new@example.com", "identities": [identity(shop.pk, "7")]}
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Another user already has this email or identity.",
        "code": "identity_taken",
        "errors": [
            {
                "field": "identities.0.external_id",
                "message": "Another user has this identity on this installation.",
            }
        ],
    }
    assert _count_users(acme) == 1


def test_an_email_taken_in_any_case_is_409(acme):
    api = api_credentials(acme).client()
    assert _post(api, USERS, {"email": "Jane@Example.com"}).status_code == 201

    response = _post(api, USERS, {"email": "jane@example.COM"})

    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"
    assert _count_users(acme) == 1


def test_the_same_external_id_on_two_installations_is_two_identities(acme):
    shop, other_shop = installation(acme, name="One"), installation(acme, name="Two")
    api = api_credentials(acme).client()

    first = _post(api, USERS, {"identities": [identity(shop.pk, "5")]})
    second = _post(api, USERS, {"identities": [identity(other_shop.pk, "5")]})

    assert (first.status_code, second.status_code) == (201, 201)


def test_creating_a_user_is_audited_without_personal_data(acme):
    creds = api_credentials(acme, name="Shop backend")

    response = _post(creds.client(), USERS, {"email": "jane@example.com"})

    with tenant_context(acme.organisation):
        entry = AuditEntry.objects.get(action="user.created")
    assert entry.actor_kind == "api_client"
    assert entry.actor_id == creds.client_id
    assert entry.actor_label == "Shop backend"
    assert entry.target_id == response.json()["id"]
    assert entry.target_label == response.json()["id"]
    assert "jane" not in json.dumps(entry.changes)


# List and get ---------------------------------------------------------------------------


def test_find_a_user_by_identity_and_by_email_in_any_case(acme):
    shop = installation(acme)
    api = api_credentials(acme).client()
    created = _post(
        api, USERS, {"email": "Jane@Example.com", "identities": [identity(shop.pk, "207119551")]}
    ).json()
    _post(api, USERS, {"email": "bob@example.com"})

    by_identity = api.get(USERS, {"installation_id": str(shop.pk), "external_id": "207119551"})
    by_email = api.get(USERS, {"email": "JANE@example.com"})

    assert by_identity.status_code == 200
    assert by_identity.json() == {"items": [created], "count": 1}
    assert by_email.json() == {"items": [created], "count": 1}


def test_half_an_identity_filter_is_422_naming_the_missing_half(acme):
    api = api_credentials(acme).client()

    response = api.get(USERS, {"external_id": "1"})

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "installation_id", "message": "Required with the other half of the identity."}
    ]


def test_list_clamps_limit_to_100_and_pages_with_offset(acme):
    shop = installation(acme)
    users_with_identities(acme, 120, installation_id=shop.pk)
    api = api_credentials(acme).client()

    clamped = api.get(USERS, {"limit": 1000})
    last_page = api.get(USERS, {"limit": 50, "offset": 100})
    beyond = api.get(USERS, {"offset": 500})

    assert clamped.status_code == 200
    assert len(clamped.json()["items"]) == 100
    assert clamped.json()["count"] == 120
    assert [u["email"] for u in last_page.json()["items"]] == [
        f"u{n}@example.com" for n in range(100, 120)
    ]
    assert beyond.json() == {"items": [], "count": 120}


def test_a_negative_offset_or_zero_limit_is_422(acme):
    api = api_credentials(acme).client()

    assert api.get(USERS, {"offset": -1}).status_code == 422
    assert api.get(USERS, {"limit": 0}).status_code == 422
    assert api.get(USERS, {"limit": "ten"}).json()["errors"][0]["field"] == "limit"


def test_listing_users_with_identities_takes_the_same_queries_for_10_and_100(acme):
    shop = installation(acme)
    api = api_credentials(acme).client()
    api.get(USERS)  # host lookup cached, last use recorded

    users_with_identities(acme, 10, installation_id=shop.pk, prefix="a")
    with CaptureQueriesContext(connection) as ten:
        assert len(api.get(USERS, {"limit": 100}).json()["items"]) == 10
    users_with_identities(acme, 90, installation_id=shop.pk, prefix="b")
    with CaptureQueriesContext(connection) as hundred:
        assert len(api.get(USERS, {"limit": 100}).json()["items"]) == 100

    assert len(hundred.captured_queries) == len(ten.captured_queries)


def test_get_a_user_and_404_for_an_unknown_id(acme):
    api = api_credentials(acme).client()
    created = _post(api, USERS, {"email": "jane@example.com"}).json()

    found = api.get(f"{USERS}/{created['id']}")
    missing = api.get(f"{USERS}/{uuid.uuid4()}")
    malformed = api.get(f"{USERS}/not-a-uuid")

    assert found.json() == created
    assert missing.status_code == 404
    assert missing.json() == {"detail": "No user with this id.", "code": "not_found"}
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "user_id"


# Change and delete ----------------------------------------------------------------------


def test_patch_replaces_identities_when_given_and_keeps_them_otherwise(acme):
    shop = installation(acme)
    api = api_credentials(acme).client()
    user = _post(
        api, USERS, {"email": "jane@example.com", "identities": [identity(shop.pk, "1")]}
    ).json()

    renamed = _patch(api, f"{USERS}/{user['id']}", {"name": "Jane Doe"})
    replaced = _patch(
        api,
        f"{USERS}/{user['id']}",
        {"identities": [identity(shop.pk, "2"), identity(shop.pk, "3")]},
    )

    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Jane Doe"
    assert renamed.json()["identities"] == [identity(shop.pk, "1")]
    assert replaced.json()["identities"] == [identity(shop.pk, "2"), identity(shop.pk, "3")]
    assert replaced.json()["name"] == "Jane Doe"
    with tenant_context(acme.organisation):
        assert sorted(Identity.objects.values_list("external_id", flat=True)) == ["2", "3"]


def test_patch_to_an_identity_of_another_user_is_409_and_changes_nothing(acme):
    shop = installation(acme)
    api = api_credentials(acme).client()
    jane = _post(api, USERS, {"email": "jane@example.com", "identities": [identity(shop.pk, "1")]})
    _post(api, USERS, {"email": "bob@example.com", "identities": [identity(shop.pk, "2")]})

    response = _patch(
        api, f"{USERS}/{jane.json()['id']}", {"name": "J", "identities": [identity(shop.pk, "2")]}
    )

    assert response.status_code == 409
    assert api.get(f"{USERS}/{jane.json()['id']}").json() == jane.json()


def test_patch_cannot_leave_a_user_without_email_and_identity(acme):
    api = api_credentials(acme).client()
    user = _post(api, USERS, {"email": "jane@example.com"}).json()

    response = _patch(api, f"{USERS}/{user['id']}", {"email": None})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "email"
    assert api.get(f"{USERS}/{user['id']}").json()["email"] == "jane@example.com"


def test_patch_of_an_unknown_user_is_404(acme):
    api = api_credentials(acme).client()

    assert _patch(api, f"{USERS}/{uuid.uuid4()}", {"name": "x"}).status_code == 404


def test_delete_removes_personal_data_and_keeps_purchases_as_anonymous_figures(acme):
    shop = installation(acme)
    api = api_credentials(acme).client()
    user = _post(
        api, USERS, {"email": "jane@example.com", "identities": [identity(shop.pk, "207119551")]}
    ).json()
    with tenant_context(acme.organisation):
        purchase = Purchase.objects.create(
            installation=shop,
            kind="purchase",
            dedupe_key="1001",
            order_id="1001",
            customer_id=user["id"],
            external_customer_id="207119551",
            amount=Decimal("19.99"),
            currency="EUR",
            occurred_at=timezone.now(),
        )

    response = api.delete(f"{USERS}/{user['id']}")

    assert response.status_code == 204
    assert api.get(f"{USERS}/{user['id']}").status_code == 404
    with tenant_context(acme.organisation):
        purchase.refresh_from_db()
        assert (purchase.customer_id, purchase.external_customer_id) == (None, "")
        assert (purchase.amount, purchase.currency) == (Decimal("19.99"), "EUR")
        assert Identity.objects.count() == 0
        entry = AuditEntry.objects.get(action="user.deleted")
    assert entry.target_label == user["id"]
    assert entry.changes == {"purchases_unlinked": 1}
    assert api.delete(f"{USERS}/{user['id']}").status_code == 404


def test_the_delete_operation_documents_what_happens_to_purchases(acme):
    schema = acme.client().get("/api/v1/openapi.json").json()

    description = schema["paths"]["/api/v1/users/{user_id}"]["delete"]["description"]

    assert "Purchases are kept as anonymous figures" in description


# Bulk -----------------------------------------------------------------------------------


def test_bulk_reports_created_updated_unchanged_and_errors_per_item(acme):
    shop = installation(acme)
    api = api_credentials(acme).client()
    jane = _post(api, USERS, {"email": "jane@example.com", "identities": [identity(shop.pk, "1")]})
    bob = _post(api, USERS, {"email": "bob@example.com", "name": "Bob"})

    response = _post(
        api,
        BULK,
        {
            "users": [
                {"identities": [identity(shop.pk, "1")], "name": "Jane Doe"},
                {"email": "bob@example.com", "name": "Bob"},
                {"email": "new@example.com", "identities": [identity(shop.pk, "9")]},
                {"email": "broken"},
                "not an object",
                {"email": "bob@example.com", "identities": [identity(shop.pk, "1")]},
            ]
        },
    )

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [
        (0, "updated"),
        (1, "unchanged"),
        (2, "created"),
        (3, "error"),
        (4, "error"),
        (5, "error"),
    ]
    assert results[0]["id"] == jane.json()["id"]
    assert results[1]["id"] == bob.json()["id"]
    assert results[3]["error"] == {
        "detail": "The user is not valid.",
        "code": "validation_error",
        "errors": [{"field": "email", "message": "Enter a valid email address."}],
    }
    assert results[4]["error"]["errors"] == [{"field": "user", "message": "Not an object."}]
    assert results[5]["error"]["code"] == "duplicate_in_request"
    assert "error" not in results[0] and "id" not in results[3]
    created = api.get(f"{USERS}/{results[2]['id']}").json()
    assert created["identities"] == [identity(shop.pk, "9")]
    assert api.get(f"{USERS}/{jane.json()['id']}").json()["name"] == "Jane Doe"
    assert _count_users(acme) == 3


def test_bulk_item_whose_email_and_identity_belong_to_two_users_is_an_error(acme):
    shop = installation(acme)
    api = api_credentials(acme).client()
    _post(api, USERS, {"email": "jane@example.com"})
    _post(api, USERS, {"identities": [identity(shop.pk, "2")]})

    response = _post(
        api,
        BULK,
        {"users": [{"email": "jane@example.com", "identities": [identity(shop.pk, "2")]}]},
    )

    assert response.json()["results"] == [
        {
            "index": 0,
            "status": "error",
            "error": {
                "detail": "The email and identities of this item belong to different users.",
                "code": "ambiguous_match",
            },
        }
    ]


def test_bulk_upserts_1000_users_in_one_call_and_again_unchanged(acme):
    shop = installation(acme)
    api = api_credentials(acme).client()
    users = [
        {"email": f"u{n}@example.com", "identities": [identity(shop.pk, f"c{n}")]}
        for n in range(1000)
    ]

    first = _post(api, BULK, {"users": users})
    second = _post(api, BULK, {"users": users})

    assert first.status_code == 200
    assert {r["status"] for r in first.json()["results"]} == {"created"}
    assert {r["status"] for r in second.json()["results"]} == {"unchanged"}
    assert _count_users(acme) == 1000
    with tenant_context(acme.organisation):
        assert Identity.objects.count() == 1000
        entry = AuditEntry.objects.filter(action="users.bulk_upserted").order_by("occurred_at")[0]
    assert entry.changes == {"created": 1000, "updated": 0, "unchanged": 0, "error": 0}


def test_bulk_over_1000_users_is_413_and_writes_nothing(acme):
    api = api_credentials(acme).client()

    response = _post(api, BULK, {"users": [{"email": f"u{n}@example.com"} for n in range(1001)]})

    assert response.status_code == 413
    assert response.json() == {
        "detail": "At most 1000 users per call; split the list.",
        "code": "too_many_items",
    }
    assert _count_users(acme) == 0


def test_bulk_without_a_users_list_is_422(acme):
    api = api_credentials(acme).client()

    response = _post(api, BULK, {"people": []})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "users"


# Tenancy -------------------------------------------------------------------------------


def test_acme_token_lists_only_acme_users(acme, borealis):
    _post(api_credentials(borealis).client(), USERS, {"email": "bo@borealis.test"})
    api = api_credentials(acme).client()
    _post(api, USERS, {"email": "ac@acme.test"})

    response = api.get(USERS)

    assert [u["email"] for u in response.json()["items"]] == ["ac@acme.test"]
    assert response.json()["count"] == 1


def test_acme_token_on_borealis_host_is_401(acme, borealis):
    creds = api_credentials(acme)

    response = creds.client().get(USERS, HTTP_HOST=borealis.host)

    assert response.status_code == 401
    assert response.json() == {
        "detail": "A valid access token is required.",
        "code": "not_authenticated",
    }
