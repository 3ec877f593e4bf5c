"""The operators' admin on the public host: organisations made and removed by the services."""

import pytest
from allauth.account.models import EmailAddress
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from accounts.actors import Actor
from accounts.models import AuditEntry, Member
from tenants.models import Domain, Organisation
from tenants.services import base_schema_tables, organisation_create

CHANGELIST = "/admin/tenants/organisation/"
ADD = f"{CHANGELIST}add/"
OPERATOR_PASSWORD = "operators-passphrase-1"


@pytest.fixture
def operator(db) -> Member:
    return Member.objects.create_superuser(email="ops@example.test", password=OPERATOR_PASSWORD)


@pytest.fixture
def admin_client(operator) -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(operator)
    return client


def _schema_tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        )
        return {row[0] for row in cursor.fetchall()}


def _provision(slug: str) -> Organisation:
    return organisation_create(
        slug=slug, name=slug.title(), admin_email=f"a@{slug}.test", actor=Actor.system()
    ).organisation


def test_the_admin_is_404_on_an_organisation_host(acme):
    anonymous = acme.client().get("/admin/")
    signed_in = acme.signed_in().get("/admin/")

    assert anonymous.status_code == 404
    assert signed_in.status_code == 404


def test_the_admin_asks_anonymous_visitors_to_sign_in(db):
    response = Client(HTTP_HOST="localhost").get(CHANGELIST)

    assert response.status_code == 302
    assert response.url == f"/admin/login/?next={CHANGELIST}"


def test_createsuperuser_makes_an_operator_who_can_sign_in(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", OPERATOR_PASSWORD)
    call_command("createsuperuser", interactive=False, email="root@example.test", verbosity=0)
    client = Client(HTTP_HOST="localhost")

    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "root@example.test", "password": OPERATOR_PASSWORD, "next": "/admin/"},
    )

    assert response.status_code == 302
    assert response.url == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert Member.objects.get(email="root@example.test").is_superuser is True


def test_the_list_shows_organisations_but_not_the_public_or_base_schema(admin_client, acme):
    response = admin_client.get(CHANGELIST)

    listed = [org.slug for org in response.context["cl"].result_list]
    assert "acme" in listed
    assert "borealis" in listed
    assert "public" not in listed
    assert "organisation_base" not in listed


def test_adding_an_organisation_provisions_it_through_the_service(
    admin_client, operator, provisioned
):
    form = admin_client.get(ADD)

    response = admin_client.post(
        ADD, {"name": "Added Ltd", "slug": "Added-Org", "admin_email": "Boss@Added.test"}
    )
    provisioned.append("added-org")

    assert form.status_code == 200
    assert list(form.context["adminform"].form.fields) == ["name", "slug", "admin_email"]
    organisation = Organisation.objects.get(slug="added-org")
    assert response.status_code == 302
    assert response.url == CHANGELIST
    assert organisation.name == "Added Ltd"
    assert organisation.schema_name == "added_org"
    assert list(organisation.domains.values_list("domain", flat=True)) == ["added-org.localhost"]
    assert _schema_tables("added_org") == base_schema_tables()
    with tenant_context(organisation):
        admin = Member.objects.get()
        address = EmailAddress.objects.get()
        audit = AuditEntry.objects.get()
    assert (admin.email, admin.role) == ("boss@added.test", "admin")
    assert address.verified is True
    assert (audit.action, audit.actor_kind, audit.actor_label) == (
        "organisation.created",
        "member",
        "ops@example.test",
    )
    entry = LogEntry.objects.get(object_id=str(organisation.pk))
    assert (entry.user_id, entry.action_flag) == (operator.pk, 1)


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("acme", "This name is already taken."),
        ("ACME", "This name is already taken."),
        ("bad_slug", "Use 3 to 40 lower-case letters"),
        ("www", "This name is reserved."),
    ],
)
def test_adding_with_a_taken_or_bad_slug_shows_the_error_and_creates_nothing(
    admin_client, acme, slug, message
):
    before = list(Organisation.objects.values_list("slug", flat=True))

    response = admin_client.post(ADD, {"name": "X", "slug": slug, "admin_email": "x@x.test"})

    assert response.status_code == 200
    assert message in response.context["adminform"].form.errors["slug"][0]
    assert list(Organisation.objects.values_list("slug", flat=True)) == before


def _change_form(organisation: Organisation, **changes) -> dict:
    domain = organisation.domains.get()
    return {
        "name": organisation.name,
        "domains-TOTAL_FORMS": "1",
        "domains-INITIAL_FORMS": "1",
        "domains-MIN_NUM_FORMS": "0",
        "domains-MAX_NUM_FORMS": "1000",
        "domains-0-id": str(domain.pk),
        "domains-0-tenant": str(organisation.pk),
        "domains-0-domain": domain.domain,
        "domains-0-is_primary": "on",
        **changes,
    }


def test_renaming_changes_only_the_name(admin_client, acme):
    organisation = acme.organisation
    url = f"{CHANGELIST}{organisation.pk}/change/"

    response = admin_client.post(url, _change_form(organisation, name="Acme Renamed", slug="x"))

    assert response.status_code == 302
    organisation.refresh_from_db()
    assert (organisation.name, organisation.slug) == ("Acme Renamed", "acme")
    assert acme.client().get("/accounts/login/").status_code == 200


def test_a_domain_with_a_port_is_refused_in_the_change_form(admin_client, acme):
    organisation = acme.organisation
    url = f"{CHANGELIST}{organisation.pk}/change/"

    response = admin_client.post(
        url, _change_form(organisation, **{"domains-0-domain": "acme.localhost:8000"})
    )

    assert response.status_code == 200
    assert list(Domain.objects.filter(tenant=organisation).values_list("domain", flat=True)) == [
        "acme.localhost"
    ]


def test_deleting_one_organisation_drops_its_schema_and_host(admin_client, borealis):
    organisation = _provision("admin-doomed")
    assert Client().get("/accounts/login/", HTTP_HOST="admin-doomed.localhost").status_code == 200

    response = admin_client.post(f"{CHANGELIST}{organisation.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Organisation.objects.filter(slug="admin-doomed").exists()
    assert not Domain.objects.filter(domain="admin-doomed.localhost").exists()
    assert _schema_tables("admin_doomed") == set()
    assert Client().get("/accounts/login/", HTTP_HOST="admin-doomed.localhost").status_code == 404
    assert borealis.client().get("/accounts/login/").status_code == 200


def test_the_delete_selected_action_drops_every_chosen_schema(admin_client, borealis):
    chosen = [_provision("admin-gone-one"), _provision("admin-gone-two")]

    response = admin_client.post(
        CHANGELIST,
        {
            "action": "delete_selected",
            "_selected_action": [str(o.pk) for o in chosen],
            "post": "yes",
        },
    )

    assert response.status_code == 302
    assert not Organisation.objects.filter(slug__startswith="admin-gone-").exists()
    assert not Domain.objects.filter(domain__startswith="admin-gone-").exists()
    assert _schema_tables("admin_gone_one") == set()
    assert _schema_tables("admin_gone_two") == set()
    assert Organisation.objects.filter(slug="borealis").exists()
    assert "accounts_member" in _schema_tables("borealis")
