from django.db import migrations

import events.fields


class Migration(migrations.Migration):
    """Raw bodies are compressed by the application from now on: PostgreSQL keeps them
    out of line as they come (EXTERNAL) instead of compressing them a second time."""

    dependencies = [
        ("events", "0004_portal_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookreceipt",
            name="body",
            field=events.fields.CompressedBinaryField(blank=True, null=True),
        ),
        migrations.RunSQL(
            "ALTER TABLE events_webhookreceipt ALTER COLUMN body SET STORAGE EXTERNAL",
            reverse_sql="ALTER TABLE events_webhookreceipt ALTER COLUMN body SET STORAGE EXTENDED",
        ),
    ]
