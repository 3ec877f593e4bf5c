from django.db import connection
from django.test import Client

from accounts.actors import Actor
from tenants.models import Domain, Organisation
from tenants.services import organisation_create


def _schema_exists(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [schema])
        return cursor.fetchone() is not None


def _provision(slug: str) -> Organisation:
    return organisation_create(
        slug=slug, name=slug, admin_email=f"a@{slug}.test", actor=Actor.system()
    ).organisation


def test_deleting_an_organisation_drops_schema_domain_and_host(db, borealis):
    organisation = _provision("doomed")
    client = Client()
    assert client.get("/accounts/login/", HTTP_HOST="doomed.localhost").status_code == 200

    organisation.delete()

    assert not _schema_exists("doomed")
    assert not Domain.objects.filter(domain="doomed.localhost").exists()
    assert client.get("/accounts/login/", HTTP_HOST="doomed.localhost").status_code == 404
    assert _schema_exists("borealis")
    assert Client().get("/accounts/login/", HTTP_HOST="borealis.localhost").status_code == 200


def test_a_queryset_delete_drops_every_schema(db, borealis):
    _provision("doomed-one")
    _provision("doomed-two")

    Organisation.objects.filter(slug__startswith="doomed-").delete()

    assert not _schema_exists("doomed_one")
    assert not _schema_exists("doomed_two")
    assert not Domain.objects.filter(domain__startswith="doomed-").exists()
    assert Organisation.objects.clients().filter(slug="borealis").exists()
