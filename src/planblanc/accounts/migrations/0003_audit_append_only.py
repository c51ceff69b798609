"""The audit log refuses UPDATE and DELETE in the database itself, not only in Python."""

from django.db import migrations


def forward(apps, schema_editor):
    from planblanc.accounts.db_guards import install_audit_guards

    install_audit_guards(schema_editor.connection)


def backward(apps, schema_editor):
    from planblanc.accounts.db_guards import remove_audit_guards

    remove_audit_guards(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_initial")]
    operations = [migrations.RunPython(forward, backward)]
