import json

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from accounts.actors import Actor
from accounts.errors import ApplicationError
from tenants import schema_clone
from tenants.models import Domain, Organisation
from tenants.services import base_schema_tables, organisation_create


def _tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        )
        return {row[0] for row in cursor.fetchall()}


def test_a_new_organisation_has_every_table_of_the_base_schema(provisioned):
    organisation_create(
        slug="clone-check", name="Clone", admin_email="a@clone.test", actor=Actor.system()
    )
    provisioned.append("clone-check")

    base = base_schema_tables()
    assert "accounts_member" in base
    assert "oauth2_provider_accesstoken" in base
    assert _tables("clone_check") == base


def test_the_base_schema_holds_no_rows_and_no_domain(acme):
    base = settings.TENANT_BASE_SCHEMA
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{base}".accounts_member')
        members = cursor.fetchone()[0]

    assert members == 0
    assert not Domain.objects.filter(tenant__schema_name=base).exists()


def test_create_organisation_prints_the_documented_json(provisioned, capsys):
    call_command(
        "create_organisation",
        "--slug=json-org",
        "--name=Json Org",
        "--admin-email=Owner@Json.test",
        "--json",
    )
    provisioned.append("json-org")

    result = json.loads(capsys.readouterr().out)
    assert set(result) == {
        "slug",
        "schema_name",
        "domain",
        "portal_url",
        "admin_email",
        "admin_password",
    }
    assert result["slug"] == "json-org"
    assert result["schema_name"] == "json_org"
    assert result["domain"] == "json-org.localhost"
    assert result["portal_url"] == "http://json-org.localhost:8000/"
    assert result["admin_email"] == "owner@json.test"
    assert len(result["admin_password"]) >= 12


def test_the_created_admin_can_sign_in_at_once(provisioned):
    call_command(
        "create_organisation",
        "--slug=signin-org",
        "--name=Sign In",
        "--admin-email=boss@signin.test",
        "--admin-password=a-long-enough-password",
    )
    provisioned.append("signin-org")
    client = Client(HTTP_HOST="signin-org.localhost")

    response = client.post(
        "/accounts/login/",
        {"login": "boss@signin.test", "password": "a-long-enough-password"},
    )

    assert response.status_code == 302
    assert response.url == "/"
    assert client.get("/").status_code == 200


def test_create_organisation_fails_with_json_on_a_taken_slug(acme, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "create_organisation", "--slug=acme", "--name=X", "--admin-email=x@x.test", "--json"
        )

    assert exit_info.value.code == 1
    body = json.loads(capsys.readouterr().out)
    assert body["code"] == "slug_taken"
    assert body["detail"] == "The name 'acme' is already taken."


@pytest.mark.parametrize(
    "slug",
    [
        "ab",
        "ac me",
        "1abc",
        "abc-",
        "public",
        "www",
        "admin",
        "api",
        "static",
        "organisation-base",
        "a" * 41,
        "with_underscore",
    ],
)
def test_bad_or_reserved_slugs_are_refused_and_nothing_is_created(db, slug):
    with pytest.raises(ApplicationError) as error:
        organisation_create(slug=slug, name="X", admin_email="x@x.test", actor=Actor.system())

    assert error.value.code == "validation_error"
    assert error.value.errors[0].field == "slug"
    assert not Organisation.objects.clients().filter(slug=slug).exists()


def test_a_failed_provisioning_leaves_no_schema(db, monkeypatch):
    import tenants.services as services

    def broken(**kwargs):
        raise RuntimeError("mail server on fire")

    monkeypatch.setattr(services, "audit_record", broken)

    with pytest.raises(RuntimeError):
        organisation_create(
            slug="half-made", name="Half", admin_email="h@h.test", actor=Actor.system()
        )

    assert not Organisation.objects.filter(slug="half-made").exists()
    assert _tables("half_made") == set()


def _structure(schema: str) -> dict[str, set]:
    """Columns, constraints and indexes of a schema, with its own name taken out."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity
            FROM information_schema.columns WHERE table_schema = %s
            """,
            [schema],
        )
        columns = set(cursor.fetchall())
        cursor.execute(
            """
            SELECT cl.relname, con.conname, con.contype,
                   replace(pg_get_constraintdef(con.oid), %s, '')
            FROM pg_constraint con JOIN pg_class cl ON cl.oid = con.conrelid
            WHERE cl.relnamespace = %s::regnamespace
            """,
            [f"{schema}.", schema],
        )
        constraints = set(cursor.fetchall())
        cursor.execute(
            "SELECT tablename, indexname, replace(indexdef, %s, '') FROM pg_indexes"
            " WHERE schemaname = %s",
            [f"{schema}.", schema],
        )
        indexes = set(cursor.fetchall())
        cursor.execute(
            "SELECT c.relname, c.reloptions, a.attname, a.attstorage FROM pg_class c "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r'",
            [schema],
        )
        storage = {(t, tuple(o or ()), column, kind) for t, o, column, kind in cursor.fetchall()}
    return {
        "columns": columns,
        "constraints": constraints,
        "indexes": indexes,
        "storage": storage,
    }


def test_a_new_organisation_is_an_exact_copy_of_the_base_schema(provisioned):
    base = settings.TENANT_BASE_SCHEMA
    assert schema_clone.unsupported_objects(base) == []

    organisation_create(
        slug="copy-check", name="Copy", admin_email="a@copy.test", actor=Actor.system()
    )
    provisioned.append("copy-check")

    copy, original = _structure("copy_check"), _structure(base)
    assert copy["columns"] == original["columns"]
    assert copy["constraints"] == original["constraints"]
    assert copy["indexes"] == original["indexes"]
    assert copy["storage"] == original["storage"]
    assert ("events_webhookreceipt", ("toast_tuple_target=8160",), "body", "e") in copy["storage"]
    assert len(original["constraints"]) > 50
    assert len(original["indexes"]) > 50


def test_the_copy_carries_content_types_and_permissions_and_new_ids_follow_them(provisioned):
    organisation = organisation_create(
        slug="types-check", name="Types", admin_email="a@types.test", actor=Actor.system()
    ).organisation
    provisioned.append("types-check")
    base = settings.TENANT_BASE_SCHEMA
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app_label, model FROM "{base}".django_content_type')
        base_types = set(cursor.fetchall())
        cursor.execute(f'SELECT count(*) FROM "{base}".auth_permission')
        base_permissions = cursor.fetchone()[0]

    with tenant_context(organisation):
        types = set(ContentType.objects.values_list("app_label", "model"))
        permissions = Permission.objects.count()
        added = ContentType.objects.create(app_label="probe", model="probe")
        largest = max(ContentType.objects.exclude(pk=added.pk).values_list("pk", flat=True))

    assert types == base_types
    assert ("accounts", "member") in types
    assert permissions == base_permissions
    assert added.pk == largest + 1


def test_a_base_with_objects_the_copy_does_not_know_falls_back_to_the_full_clone(provisioned):
    base = settings.TENANT_BASE_SCHEMA
    with connection.cursor() as cursor:
        cursor.execute(
            f'CREATE VIEW "{base}".member_emails AS SELECT email FROM "{base}".accounts_member'
        )

    organisation_create(
        slug="view-check", name="View", admin_email="a@view.test", actor=Actor.system()
    )
    provisioned.append("view-check")

    assert schema_clone.unsupported_objects(base) == ["relation member_emails"]
    assert base_schema_tables() <= _tables("view_check") | {"member_emails"}
    assert "member_emails" in _tables("view_check")
    with tenant_context(Organisation.objects.get(slug="view-check")):
        assert ContentType.objects.filter(app_label="accounts", model="member").exists()
