"""Create what a new database needs before any organisation exists.

- the shared cache table (used when REDIS_URL is unset);
- the public organisation and its domain, from BASE_URL's host;
- the row and empty schema of the base that new organisations are cloned from.
  The tenant pass of `migrate_schemas` migrates it like any other schema.
"""

from django.conf import settings
from django.db import migrations


def create_public_and_base(apps, schema_editor):
    Organisation = apps.get_model("tenants", "Organisation")
    Domain = apps.get_model("tenants", "Domain")

    public, _ = Organisation.objects.get_or_create(
        schema_name="public", defaults={"name": "Public site", "slug": "public"}
    )
    Domain.objects.get_or_create(
        domain=settings.BASE_HOST, defaults={"tenant": public, "is_primary": True}
    )

    base_schema = settings.TENANT_BASE_SCHEMA
    Organisation.objects.get_or_create(
        schema_name=base_schema, defaults={"name": "Base for new organisations", "slug": base_schema}
    )
    schema_editor.execute(f'CREATE SCHEMA IF NOT EXISTS "{base_schema}"')


def create_cache_table(apps, schema_editor):
    from django.core.management import call_command

    call_command("createcachetable", "shared_cache", database=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [
        migrations.RunPython(create_cache_table, migrations.RunPython.noop),
        migrations.RunPython(create_public_and_base, migrations.RunPython.noop),
    ]
