"""STIX ids drawn at random (UUIDv4) and kept: one per crisis for its report, one per
establishment for its identity. Existing crises each get their own id."""

import uuid

import django.db.models.deletion
from django.db import migrations, models


def fill_report_ids(apps, schema_editor):
    Crisis = apps.get_model("crisis", "Crisis")
    for pk in Crisis.objects.filter(stix_report_uuid__isnull=True).values_list("pk", flat=True).iterator():
        Crisis.objects.filter(pk=pk).update(stix_report_uuid=uuid.uuid4())


class Migration(migrations.Migration):

    dependencies = [
        ("crisis", "0007_merge_20261205_1713"),
        ("directory", "0004_person_matrix_id"),
    ]

    operations = [
        migrations.AddField(
            model_name="crisis", name="stix_report_uuid",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill_report_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="crisis", name="stix_report_uuid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.CreateModel(
            name="StixIdentity",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("establishment", models.OneToOneField(
                    on_delete=django.db.models.deletion.CASCADE, related_name="+", to="directory.establishment")),
            ],
            options={"verbose_name": "STIX identity", "verbose_name_plural": "STIX identities"},
        ),
    ]
