from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("upgrade_app", "0001_initial")]

    operations = [
        migrations.AddConstraint(
            model_name="probe",
            constraint=models.CheckConstraint(
                condition=~models.Q(code="bad"), name="probe_code_not_bad"
            ),
        ),
    ]
