"""The logbook refuses UPDATE and DELETE in the database itself, not only in Python."""

from django.db import migrations


def forward(apps, schema_editor):
    from planblanc.crisis.db_guards import install_logbook_guards

    install_logbook_guards(schema_editor.connection)


def backward(apps, schema_editor):
    from planblanc.crisis.db_guards import remove_logbook_guards

    remove_logbook_guards(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("crisis", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
