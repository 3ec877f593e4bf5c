import base64
import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tenants.utils import tenant_context
from oauth2_provider.models import AccessToken

from accounts.actors import Actor
from accounts.models import ApiClient, AuditEntry, Member
from accounts.services import api_client_revoke
from tests.accounts.factories import FAST_HASHERS, api_credentials

USERS = "/api/v1/users"


@pytest.fixture
def fast_hashers(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _token(org, creds, **data):
    return org.client().post(
        "/o/token/",
        {"grant_type": "client_credentials", **data},
        HTTP_AUTHORIZATION=_basic(creds.client_id, creds.client_secret),
    )


# The token endpoint ---------------------------------------------------------------------


def test_client_credentials_get_a_token_with_every_granted_scope(acme, fast_hashers):
    creds = api_credentials(acme, "users:read", "users:write")

    response = _token(acme, creds)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "users:read users:write"
    assert body["expires_in"] == 3600
    assert creds.client(body["access_token"]).get(USERS).status_code == 200


def test_tokens_are_stored_only_as_checksums(acme, fast_hashers):
    creds = api_credentials(acme, "users:read")

    token = _token(acme, creds).json()["access_token"]

    with tenant_context(acme.organisation):
        stored = AccessToken.objects.exclude(token_checksum="").latest("id")
        assert stored.token == ""
        assert token not in stored.token_checksum


def test_a_client_may_ask_for_a_subset_but_not_for_a_scope_it_was_not_granted(acme, fast_hashers):
    creds = api_credentials(acme, "users:read")

    narrowed = _token(acme, creds, scope="users:read")
    widened = _token(acme, creds, scope="users:read users:write")

    assert narrowed.json()["scope"] == "users:read"
    assert widened.status_code == 400
    assert widened.json() == {"error": "invalid_scope"}


def test_a_wrong_secret_is_invalid_client(acme, fast_hashers):
    creds = api_credentials(acme, "users:read")
    creds.client_secret = "wrong"

    response = _token(acme, creds)

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


def test_acme_credentials_are_invalid_client_at_borealis(acme, borealis, fast_hashers):
    creds = api_credentials(acme, "users:read")

    response = _token(borealis, creds)

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


def test_a_revoked_client_gets_no_token_and_its_tokens_stop_working(acme, fast_hashers):
    creds = api_credentials(acme, "users:read")
    api = creds.client()
    assert api.get(USERS).status_code == 200

    with tenant_context(acme.organisation):
        api_client_revoke(api_client=creds.api_client, actor=Actor.system("tests"))

    assert api.get(USERS).status_code == 401
    assert _token(acme, creds).json() == {"error": "invalid_client"}


def test_the_password_grant_gives_no_token_even_with_a_members_password(acme, fast_hashers):
    creds = api_credentials(acme, "users:read")

    response = _token(
        acme,
        creds,
        grant_type="password",
        username=acme.admin.email,
        password="correct-horse-battery-staple",
    )

    assert response.status_code in (400, 401)
    assert "access_token" not in response.json()


# Bearer tokens on the API (CASES C06) --------------------------------------------------


def test_a_users_read_token_reads_but_cannot_write(acme):
    api = api_credentials(acme, "users:read").client()

    read = api.get(USERS)
    write = api.post(USERS, {"email": "a@example.com"}, content_type="application/json")

    assert read.status_code == 200
    assert write.status_code == 403
    assert write.json() == {
        "detail": "This token lacks the scope users:write.",
        "code": "insufficient_scope",
    }


@pytest.mark.parametrize("query", ["q=100%", "q=%zz", "email=100%", "email=%zz", "limit=%zz"])
def test_odd_query_strings_are_200_or_4xx_never_500(acme, query):
    api = api_credentials(acme, "users:read").client()

    response = api.get(f"{USERS}?{query}")

    assert response.status_code in (200, 400, 422)
    assert response.json()


def test_an_expired_token_is_401(acme):
    api = api_credentials(acme, "users:read", expires_in=-1).client()

    response = api.get(USERS)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_token_revoked_at_the_revocation_endpoint_is_401(acme, fast_hashers):
    creds = api_credentials(acme, "users:read")
    assert creds.client().get(USERS).status_code == 200

    revoked = acme.client().post(
        "/o/revoke_token/",
        {"token": creds.token},
        HTTP_AUTHORIZATION=_basic(creds.client_id, creds.client_secret),
    )

    assert revoked.status_code == 200
    assert creds.client().get(USERS).status_code == 401


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer ", "Bearer unknown-token", "Basic dXNlcjpwYXNz", "Token x"]
)
def test_missing_or_unknown_credentials_are_401_in_the_error_body(acme, header):
    response = acme.client().get(USERS, HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {
        "detail": "A valid access token is required.",
        "code": "not_authenticated",
    }


def test_the_organisation_comes_from_the_tokens_application(acme, borealis):
    acme_creds = api_credentials(acme, "users:read", name="acme client")
    borealis_creds = api_credentials(borealis, "users:read", name="borealis client")

    on_acme = acme_creds.client().get(USERS)
    acme_token_on_borealis = acme_creds.client().get(USERS, HTTP_HOST=borealis.host)
    on_borealis = borealis_creds.client().get(USERS)

    assert on_acme.status_code == 200
    assert on_acme.wsgi_request.auth.api_client.pk == acme_creds.api_client.pk
    assert on_acme.wsgi_request.auth.application.name == "acme client"
    assert acme_token_on_borealis.status_code == 401
    assert on_borealis.wsgi_request.auth.application.name == "borealis client"


def test_last_use_is_written_at_most_once_a_minute(acme):
    creds = api_credentials(acme, "users:read")
    api = creds.client()

    api.get(USERS)
    with tenant_context(acme.organisation):
        first = ApiClient.objects.get(pk=creds.api_client.pk).last_used_at
    api.get(USERS)
    with tenant_context(acme.organisation):
        second = ApiClient.objects.get(pk=creds.api_client.pk).last_used_at
        stale = timezone.now() - timedelta(minutes=2)
        ApiClient.objects.filter(pk=creds.api_client.pk).update(last_used_at=stale)
    api.get(USERS)
    with tenant_context(acme.organisation):
        third = ApiClient.objects.get(pk=creds.api_client.pk).last_used_at

    assert first is not None
    assert second == first
    assert third > stale


# The command ----------------------------------------------------------------------------


def test_create_api_client_command_prints_id_secret_and_scopes(acme, fast_hashers):
    out = io.StringIO()

    call_command(
        "create_api_client",
        "--organisation",
        "acme",
        "--name",
        "Back office",
        "--scopes",
        "users:write",
        "users:read",
        "--json",
        stdout=out,
    )

    result = json.loads(out.getvalue())
    assert sorted(result) == ["client_id", "client_secret", "scopes"]
    assert result["scopes"] == ["users:read", "users:write"]
    creds = type("Creds", (), result)
    token = _token(acme, creds).json()
    assert token["scope"] == "users:read users:write"
    with tenant_context(acme.organisation):
        client = ApiClient.objects.get(application__client_id=result["client_id"])
        assert client.application.client_secret != result["client_secret"]
        assert AuditEntry.objects.filter(action="api_client.created").count() == 1


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--organisation", "nobody", "--scopes", "users:read"], "organisation_not_found"),
        (["--organisation", "acme", "--scopes", "users:admin"], "validation_error"),
    ],
)
def test_create_api_client_command_fails_with_detail_and_code(acme, args, code):
    out = io.StringIO()

    with pytest.raises(SystemExit) as exit_info:
        call_command("create_api_client", "--name", "X", *args, "--json", stdout=out)

    assert exit_info.value.code == 1
    assert json.loads(out.getvalue())["code"] == code


# The portal pages ---------------------------------------------------------------------


def test_an_admin_creates_an_api_client_and_sees_the_secret_once(acme):
    portal = acme.signed_in()

    created = portal.post(
        "/api-clients/new/", {"name": "Back office", "scopes": ["users:read", "users:write"]}
    )
    listing = portal.get("/api-clients/")

    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    secret = created.context["created"].client_secret
    client_id = created.context["created"].client_id
    assert secret in created.content.decode()
    assert client_id in listing.content.decode()
    assert secret not in listing.content.decode()
    assert "never" in listing.content.decode()
    with tenant_context(acme.organisation):
        entry = AuditEntry.objects.get(action="api_client.created")
    assert entry.actor_label == acme.admin.email
    assert secret not in json.dumps(entry.changes)


def test_an_api_client_without_a_scope_is_not_created(acme):
    portal = acme.signed_in()

    response = portal.post("/api-clients/new/", {"name": "Back office"})

    assert response.status_code == 422
    assert response.context["form"].errors == {"scopes": ["This field is required."]}
    with tenant_context(acme.organisation):
        assert ApiClient.objects.count() == 0


def test_an_admin_revokes_an_api_client_and_its_tokens(acme):
    creds = api_credentials(acme, "users:read")
    portal = acme.signed_in()

    response = portal.post(f"/api-clients/{creds.api_client.pk}/revoke/")

    assert response.status_code == 302
    assert creds.client().get(USERS).status_code == 401
    with tenant_context(acme.organisation):
        revoked = ApiClient.objects.get(pk=creds.api_client.pk)
        assert revoked.revoked_by == acme.admin.email
        assert AccessToken.objects.filter(application_id=revoked.pk).count() == 0
        entry = AuditEntry.objects.get(action="api_client.revoked")
    assert entry.changes == {"client_id": creds.client_id, "tokens_revoked": 1}
    assert "revoked" in portal.get("/api-clients/").content.decode()


def test_viewers_see_api_clients_but_cannot_create_or_revoke(acme):
    creds = api_credentials(acme, "users:read", name="Back office")
    with tenant_context(acme.organisation):
        viewer = Member.objects.create_user(email="viewer@acme.test", password="x" * 12)
    portal = acme.signed_in(viewer)

    listing = portal.get("/api-clients/")
    create = portal.post("/api-clients/new/", {"name": "Mine", "scopes": ["users:read"]})
    revoke = portal.post(f"/api-clients/{creds.api_client.pk}/revoke/")

    assert listing.status_code == 200
    assert "Back office" in listing.content.decode()
    assert "New API client" not in listing.content.decode()
    assert (create.status_code, revoke.status_code) == (403, 403)
    assert creds.client().get(USERS).status_code == 200


def test_the_api_clients_page_lists_only_this_organisations_clients(acme, borealis):
    api_credentials(borealis, "users:read", name="Borealis backend")
    api_credentials(acme, "users:read", name="Acme backend")

    page = acme.signed_in().get("/api-clients/").content.decode()

    assert "Acme backend" in page
    assert "Borealis backend" not in page


def test_the_portal_nav_links_to_api_clients(acme):
    page = acme.signed_in().get("/").content.decode()

    assert 'href="/api-clients/"' in page
