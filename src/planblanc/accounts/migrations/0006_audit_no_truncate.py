"""The audit log refuses TRUNCATE too (PostgreSQL), even by the table's owner."""

from django.db import migrations


def install(apps, schema_editor):
    from planblanc.accounts.db_guards import install_audit_guards

    install_audit_guards(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_audit_links_protect")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
