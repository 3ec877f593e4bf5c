"""Sign-up names that would collide with PostgreSQL's own schemas."""

import pytest
from django.test import Client

from tenants.models import Domain, Organisation


@pytest.mark.parametrize("slug", ["pg-shop", "pg-catalog", "information-schema"])
def test_a_slug_naming_a_postgres_system_schema_is_refused_not_a_500(db, slug):
    response = Client(raise_request_exception=False).post(
        "/signup/",
        {
            "name": "Shop",
            "slug": slug,
            "admin_email": f"owner@{slug}.test",
            "password": "a-long-enough-passphrase",
        },
        HTTP_HOST="localhost",
    )

    assert response.status_code == 400
    assert response.context["form"].errors["slug"] == ["This name is reserved."]
    assert not Organisation.objects.filter(slug=slug).exists()
    assert not Domain.objects.filter(domain=f"{slug}.localhost").exists()
