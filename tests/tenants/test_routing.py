import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from tenants.models import Domain


def test_host_with_port_reaches_its_organisation(acme):
    response = acme.client().get("/accounts/login/", HTTP_HOST="acme.localhost:8000")

    assert response.status_code == 200
    assert response.wsgi_request.tenant.schema_name == "acme"


def test_host_in_upper_case_reaches_its_organisation(acme):
    response = Client().get("/accounts/login/", HTTP_HOST="ACME.localhost")

    assert response.status_code == 200
    assert response.wsgi_request.tenant.schema_name == "acme"


def test_unknown_host_gets_a_bare_404(acme):
    response = Client().get("/accounts/login/", HTTP_HOST="nobody.localhost")

    assert response.status_code == 404
    assert response.content == b"Not found."


def test_unknown_host_gets_404_on_every_path(acme):
    for path in ["/", "/admin/", "/api/v1/users", "/signup/"]:
        assert Client().get(path, HTTP_HOST="nobody.localhost").status_code == 404


def test_healthz_answers_on_any_host(acme):
    for host in ["localhost", "acme.localhost", "nobody.localhost"]:
        response = Client().get("/healthz", HTTP_HOST=host)

        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    "value", ["acme.example.com:8000", "http://acme.example.com", "Acme.example.com", "a/b"]
)
def test_a_domain_with_port_scheme_or_upper_case_is_rejected(acme, value):
    with pytest.raises(ValidationError):
        Domain.objects.create(domain=value, tenant=acme.organisation)

    assert not Domain.objects.filter(domain=value).exists()


def test_a_new_domain_is_served_at_once_after_a_cached_miss(acme):
    assert Client().get("/accounts/login/", HTTP_HOST="shop.acme.localhost").status_code == 404

    Domain.objects.create(domain="shop.acme.localhost", tenant=acme.organisation, is_primary=False)
    first = Client().get("/accounts/login/", HTTP_HOST="shop.acme.localhost")

    assert first.status_code == 200
    assert first.wsgi_request.tenant.schema_name == "acme"


def test_a_removed_domain_stops_answering_at_once(acme):
    domain = Domain.objects.create(
        domain="old.acme.localhost", tenant=acme.organisation, is_primary=False
    )
    assert Client().get("/accounts/login/", HTTP_HOST="old.acme.localhost").status_code == 200

    domain.delete()

    assert Client().get("/accounts/login/", HTTP_HOST="old.acme.localhost").status_code == 404


def test_public_host_serves_the_public_site_not_a_portal(acme):
    response = Client().get("/", HTTP_HOST="localhost")

    assert response.status_code == 200
    assert b"Create your organisation" in response.content
