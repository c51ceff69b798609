"""The logbook (main courante): append-only in the database, hash-chained, and
`logbook_verify` names the first edited, deleted, inserted or reordered entry."""

from __future__ import annotations

import datetime
import hashlib
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from planblanc.crisis.chain import entry_digest, logbook_verify
from planblanc.crisis.db_guards import install_logbook_guards, remove_logbook_guards
from planblanc.crisis.models import LogbookAttachment, LogbookEntry
from planblanc.crisis.services import AttachmentInput, crisis_close, logbook_append

pytestmark = pytest.mark.django_db


@pytest.fixture
def filled(crisis, director):
    # Entries 1-2 come from the declaration; 3-6 are written here.
    for number in range(4):
        logbook_append(actor=director, crisis=crisis, kind="event", text=f"Événement {number}")
    assert crisis.head_seq == 6
    return crisis


def _raw(sql: str, params: list | None = None) -> None:
    """What someone with the database owner's rights could do: lift the triggers."""
    remove_logbook_guards(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params or [])
    finally:
        install_logbook_guards(connection)


def _id(crisis, seq: int) -> int:
    return LogbookEntry.objects.get(crisis=crisis, seq=seq).pk


def test_it_chains_every_entry_to_the_previous_one(filled):
    entries = list(LogbookEntry.objects.filter(crisis=filled))
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0].prev_hash == "0" * 64
    for before, after in zip(entries, entries[1:], strict=False):
        assert after.prev_hash == before.entry_hash
    result = logbook_verify(filled)
    assert result.ok and result.count == 6 and result.head_hash == entries[-1].entry_hash == filled.head_hash


def test_it_hashes_a_canonical_encoding_anyone_can_recompute(filled):
    entry = LogbookEntry.objects.get(crisis=filled, seq=3)
    at = entry.at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    document = (
        f'{{"at":"{at}","attachments":[],"author":"{entry.author_label}","corrects":null,"crisis":{filled.pk},'
        f'"kind":"event","prev":"{entry.prev_hash}","seq":3,"text":"Événement 0","v":1}}'
    )
    assert hashlib.sha256(document.encode()).hexdigest() == entry.entry_hash


def test_it_refuses_update_and_delete_in_the_database(filled):
    entry = LogbookEntry.objects.get(crisis=filled, seq=3)
    with pytest.raises(DatabaseError), transaction.atomic():
        LogbookEntry.objects.filter(pk=entry.pk).update(text="Rien ne s'est passé")
    with pytest.raises(DatabaseError), transaction.atomic():
        LogbookEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE crisis_logbookentry SET text = 'x' WHERE id = %s", [entry.pk])
    entry.refresh_from_db()
    assert entry.text == "Événement 0" and logbook_verify(filled).ok


def test_it_names_an_edited_entry(filled):
    _raw("UPDATE crisis_logbookentry SET text = %s WHERE id = %s", ["Rien ne s'est passé", _id(filled, 4)])
    result = logbook_verify(filled)
    assert not result.ok and result.bad_seq == 4 and "edited" in result.reason
    with pytest.raises(CommandError) as failed:
        call_command("logbook_verify", str(filled.pk), stdout=io.StringIO())
    assert failed.value.returncode == 1


def test_the_command_names_the_bad_entry_and_exits_1(filled, capsys):
    out = io.StringIO()
    call_command("logbook_verify", "--all", stdout=out)
    assert f"OK   crisis {filled.pk}" in out.getvalue() and filled.head_hash in out.getvalue()
    _raw("UPDATE crisis_logbookentry SET author_label = 'Quelqu''un' WHERE id = %s", [_id(filled, 5)])
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("logbook_verify", "--all", stdout=out)
    assert failed.value.returncode == 1
    assert f"FAIL crisis {filled.pk}" in out.getvalue() and "entry #5" in out.getvalue()


def test_it_names_an_entry_edited_time(filled):
    _raw("UPDATE crisis_logbookentry SET at = at - INTERVAL '1 hour' WHERE id = %s"
         if connection.vendor == "postgresql" else
         "UPDATE crisis_logbookentry SET at = datetime(at, '-1 hour') WHERE id = %s", [_id(filled, 3)])
    result = logbook_verify(filled)
    assert result.bad_seq == 3


def test_it_names_the_entry_after_a_deleted_one(filled):
    _raw("DELETE FROM crisis_logbookentry WHERE id = %s", [_id(filled, 4)])
    result = logbook_verify(filled)
    assert not result.ok and result.bad_seq == 5 and "#4" in result.reason and "deleted" in result.reason


def test_it_detects_that_the_last_entries_were_deleted(filled):
    _raw("DELETE FROM crisis_logbookentry WHERE id = %s", [_id(filled, 6)])
    result = logbook_verify(filled)
    assert not result.ok and "#6" in result.reason and "deleted" in result.reason


def test_it_detects_an_entry_inserted_with_a_forged_hash(filled):
    """The forger renumbers the following entries and computes a valid hash for theirs:
    the entry after it no longer follows."""
    for seq in (6, 5, 4):
        _raw("UPDATE crisis_logbookentry SET seq = seq + 1 WHERE id = %s", [_id(filled, seq)])
    third = LogbookEntry.objects.get(crisis=filled, seq=3)
    at = third.at
    forged = entry_digest(crisis_id=filled.pk, seq=4, at=at, author="X", kind="event", text="Faux",
                          corrects_seq=None, attachments=[], prev_hash=third.entry_hash)
    LogbookEntry.objects.create(crisis=filled, seq=4, at=at, author_label="X", kind="event", text="Faux",
                                prev_hash=third.entry_hash, entry_hash=forged)
    result = logbook_verify(filled)
    assert not result.ok and result.bad_seq == 5 and "inserted" in result.reason


def test_it_detects_reordered_entries(filled):
    three, four = _id(filled, 3), _id(filled, 4)
    _raw("UPDATE crisis_logbookentry SET seq = 1000 WHERE id = %s", [three])
    _raw("UPDATE crisis_logbookentry SET seq = 3 WHERE id = %s", [four])
    _raw("UPDATE crisis_logbookentry SET seq = 4 WHERE id = %s", [three])
    result = logbook_verify(filled)
    assert not result.ok and result.bad_seq == 3 and result.bad_entry_id == four


def test_a_correction_is_a_new_entry_pointing_to_the_corrected_one(filled, director):
    wrong = LogbookEntry.objects.get(crisis=filled, seq=3)
    fix = logbook_append(actor=director, crisis=filled, kind="information", text="Erreur : c'était le PACS",
                         corrects=wrong)
    wrong.refresh_from_db()
    assert fix.seq == 7 and fix.corrects == wrong and wrong.text == "Événement 0"
    assert logbook_verify(filled).ok


def test_it_keeps_attachments_with_their_sha256_in_the_chain(filled, director):
    content = "Capture de la note de rançon".encode()
    entry = logbook_append(actor=director, crisis=filled, kind="event", text="Note de rançon",
                           attachments=[AttachmentInput(name="rançon.txt", content=content)])
    attachment = LogbookAttachment.objects.get(entry=entry)
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()
    stored = Path(settings.DATA_DIR) / attachment.path
    assert stored.read_bytes() == content
    assert logbook_verify(filled).ok
    stored.write_bytes(b"autre chose")
    result = logbook_verify(filled)
    assert result.bad_seq == entry.seq and "attachment" in result.reason
    with pytest.raises(DatabaseError), transaction.atomic():
        LogbookAttachment.objects.filter(pk=attachment.pk).update(sha256="0" * 64)


def test_it_refuses_bad_entries_and_outsiders(filled, director, world):
    with pytest.raises(ValidationError) as refused:
        logbook_append(actor=director, crisis=filled, kind="gossip", text=" ")
    assert set(refused.value.message_dict) == {"kind", "text"}
    for persona in ("regional_officer", "national_admin", "auditor", "outsider_admin", "group_ciso"):
        with pytest.raises(PermissionDenied):
            logbook_append(actor=world.users[persona], crisis=filled, kind="event", text="x")
    # Crisis-cell members and the establishment's administrators write.
    logbook_append(actor=world.crisis_member, crisis=filled, kind="event", text="Cellule réunie")
    logbook_append(actor=world.establishment_admin, crisis=filled, kind="event", text="Renforts demandés")
    assert LogbookEntry.objects.filter(crisis=filled).count() == 8


def test_it_closes_the_logbook_at_the_end_of_the_crisis(filled, director):
    crisis_close(actor=director, crisis=filled, summary="Retour à la normale des urgences.")
    last = LogbookEntry.objects.filter(crisis=filled).last()
    assert last.seq == 7 and "Retour à la normale" in last.text
    with pytest.raises(ValidationError):
        logbook_append(actor=director, crisis=filled, kind="event", text="Après coup")
    assert logbook_verify(filled).ok
