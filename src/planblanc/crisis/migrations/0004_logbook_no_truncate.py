"""The logbook refuses TRUNCATE too (PostgreSQL), even by the table's owner."""

from django.db import migrations


def install(apps, schema_editor):
    from planblanc.crisis.db_guards import install_logbook_guards

    install_logbook_guards(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("crisis", "0003_notifications_iocs_communication")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
