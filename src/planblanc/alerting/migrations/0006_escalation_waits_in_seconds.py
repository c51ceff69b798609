"""Escalation waits in seconds instead of whole minutes (existing waits × 60)."""

from django.db import migrations, models
from django.db.models import F


def minutes_to_seconds(apps, schema_editor):
    apps.get_model("alerting", "EscalationLevel").objects.update(wait_seconds=F("wait_minutes") * 60)


def seconds_to_minutes(apps, schema_editor):
    apps.get_model("alerting", "EscalationLevel").objects.update(wait_minutes=F("wait_seconds") / 60)


class Migration(migrations.Migration):
    dependencies = [("alerting", "0005_pending_receipts")]

    operations = [
        migrations.AddField(
            model_name="escalationlevel", name="wait_seconds",
            field=models.PositiveIntegerField(default=300, verbose_name="wait for acknowledgement (seconds)"),
        ),
        migrations.RunPython(minutes_to_seconds, seconds_to_minutes),
        migrations.RemoveField(model_name="escalationlevel", name="wait_minutes"),
    ]
