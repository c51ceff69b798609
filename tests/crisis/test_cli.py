"""`planblanc logbook verify` is the two-word spelling of `logbook_verify`."""

from __future__ import annotations

import pytest

from planblanc import cli
from planblanc.crisis.services import logbook_append

# The command closes its database connections when it ends, as a real one would: outside a
# test transaction, so the next query simply reconnects.
pytestmark = pytest.mark.django_db(transaction=True)


def test_it_runs_logbook_verify_from_the_two_word_command(logbook_guards_allow_flush, crisis, director, capsys):
    logbook_append(actor=director, crisis=crisis, kind="event", text="Premier fait")
    cli.main(["planblanc", "logbook", "verify", str(crisis.pk)])
    out = capsys.readouterr().out
    crisis.refresh_from_db()
    assert f"OK   crisis {crisis.pk}" in out and crisis.head_hash in out


def test_it_exits_1_from_the_two_word_command_on_a_broken_chain(logbook_guards_allow_flush, crisis, director):
    from django.db import connection

    from planblanc.crisis.db_guards import install_logbook_guards, remove_logbook_guards

    logbook_append(actor=director, crisis=crisis, kind="event", text="Premier fait")
    remove_logbook_guards(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE crisis_logbookentry SET text = 'modifié' WHERE crisis_id = %s", [crisis.pk])
    finally:
        install_logbook_guards(connection)
    with pytest.raises(SystemExit) as exited:
        cli.main(["planblanc", "logbook", "verify", str(crisis.pk)])
    assert exited.value.code == 1
