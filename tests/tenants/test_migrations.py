from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_tenants.utils import schema_context

from tenants.models import Organisation


def _pending(schema: str) -> list:
    with schema_context(schema):
        executor = MigrationExecutor(connection)
        return executor.migration_plan(executor.loader.graph.leaf_nodes())


def test_every_schema_is_fully_migrated_and_a_rerun_changes_nothing(acme, borealis):
    schemas = [
        "public",
        *Organisation.objects.exclude(schema_name="public").values_list("schema_name", flat=True),
    ]

    assert {"acme", "borealis", "organisation_base"} <= set(schemas)
    for schema in schemas:
        assert _pending(schema) == [], schema


def test_no_foreign_key_crosses_schemas(acme):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT tc.table_schema, tc.table_name, ccu.table_schema
            FROM information_schema.table_constraints tc
            JOIN information_schema.constraint_column_usage ccu
              ON tc.constraint_name = ccu.constraint_name
             AND tc.table_schema = ccu.constraint_schema
            WHERE tc.constraint_type = 'FOREIGN KEY'
              AND tc.table_schema IN ('public', 'acme', 'borealis')
              AND ccu.table_schema <> tc.table_schema
            """
        )
        crossing = cursor.fetchall()

    assert crossing == []
