"""The logbook anchored outside the database: RFC 3161 tokens from a local
timestamping authority (OpenSSL behind http.server, real signatures) while a crisis is
active, checked by `logbook verify` against the chain at each token's position; and the
periodic digest of the head sent to the cell through the alerting engine."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from planblanc.alerting.models import Campaign
from planblanc.crisis.anchoring import anchors_verify, crisis_digest_due, logbook_anchor_due
from planblanc.crisis.chain import digest_of_row, logbook_verify
from planblanc.crisis.db_guards import install_logbook_guards, remove_logbook_guards
from planblanc.crisis.models import Crisis, LogbookEntry, LogbookTimestamp
from planblanc.crisis.services import logbook_append
from tests.crisis.tsa import make_authority, running_authority

pytestmark = pytest.mark.django_db


@pytest.fixture
def authority(settings):
    with running_authority() as tsa:
        settings.PLANBLANC_TSA_URL = tsa.url
        settings.LOGBOOK_TSA_CA_FILE = str(tsa.ca_file)
        settings.LOGBOOK_ANCHOR_SECONDS = 300
        yield tsa


def _write(crisis, actor, n, prefix="Constat"):
    for index in range(n):
        logbook_append(actor=actor, crisis=crisis, kind="event", text=f"{prefix} {index}")
    crisis.refresh_from_db()


def _rewrite_history(crisis: Crisis, seq: int, text: str) -> None:
    """What someone with the owner's rights on the database can do: lift the guards,
    change an entry, recompute every hash after it with the published encoding."""
    remove_logbook_guards(connection)
    try:
        entries = list(LogbookEntry.objects.filter(crisis=crisis).order_by("seq"))
        previous = entries[seq - 2].entry_hash if seq > 1 else entries[0].prev_hash
        for entry in entries[seq - 1:]:
            if entry.seq == seq:
                entry.text = text
            entry.prev_hash = previous
            entry.entry_hash = digest_of_row(entry, corrects_seq=None, attachments=[])
            LogbookEntry.objects.filter(pk=entry.pk).update(
                text=entry.text, prev_hash=entry.prev_hash, entry_hash=entry.entry_hash
            )
            previous = entry.entry_hash
        Crisis.objects.filter(pk=crisis.pk).update(head_hash=previous)
    finally:
        install_logbook_guards(connection)


def test_it_timestamps_the_head_when_it_moved_and_verifies_every_token(crisis, director, authority):
    _write(crisis, director, 5)
    assert logbook_anchor_due() == 1
    # Nothing new: no second token.
    assert logbook_anchor_due() == 0
    _write(crisis, director, 3, prefix="Suite")
    # New entries, but within the interval.
    assert logbook_anchor_due() == 0
    assert logbook_anchor_due(now=crisis.declared_at + timedelta(seconds=301)) == 1
    stamps = list(LogbookTimestamp.objects.filter(crisis=crisis).order_by("seq"))
    assert [s.error for s in stamps] == ["", ""] and all(s.token for s in stamps)
    assert stamps[-1].seq == crisis.head_seq and authority.replies == 2
    result = anchors_verify(crisis)
    assert result.ok and result.checked == 2
    out = StringIO()
    call_command("logbook_verify", "--all", stdout=out)
    assert f"OK   crisis {crisis.pk}" in out.getvalue() and "2 timestamp(s) checked" in out.getvalue()


def test_it_fails_a_recomputed_chain_naming_the_first_entry_that_changed(crisis, director, authority):
    _write(crisis, director, 6)
    assert logbook_anchor_due() == 1
    first_token_seq = crisis.head_seq
    _write(crisis, director, 4, prefix="Suite")
    assert logbook_anchor_due(now=crisis.declared_at + timedelta(seconds=301)) == 1
    changed = first_token_seq + 2
    _rewrite_history(crisis, changed, "Rien à signaler")
    crisis.refresh_from_db()
    # The chain alone is fooled…
    assert logbook_verify(crisis).ok
    # …the timestamps are not.
    result = anchors_verify(crisis)
    assert not result.ok and result.since_seq == first_token_seq and result.seq == crisis.head_seq
    assert result.first_changed_seq == changed
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("logbook_verify", str(crisis.pk), stdout=out)
    assert f"FAIL crisis {crisis.pk} (" in out.getvalue() and f"entry #{changed}:" in out.getvalue()
    assert f"The first entry that changed is #{changed}." in out.getvalue()


def test_it_refuses_a_token_signed_by_an_authority_it_does_not_trust(crisis, director, authority, settings, tmp_path):
    _write(crisis, director, 2)
    assert logbook_anchor_due() == 1
    settings.LOGBOOK_TSA_CA_FILE = str(make_authority(tmp_path, name="Autre autorite"))
    result = anchors_verify(crisis)
    assert not result.ok and "not signed by a trusted authority" in result.reason


def test_it_sends_the_head_to_the_cell_in_a_periodic_digest(crisis, director, settings):
    settings.CRISIS_DIGEST_SECONDS = 3600
    _write(crisis, director, 3)
    before = Campaign.objects.count()
    assert crisis_digest_due(now=crisis.declared_at + timedelta(seconds=60)) == 0
    assert crisis_digest_due(now=crisis.declared_at + timedelta(seconds=3601)) == 1
    digest = Campaign.objects.order_by("-id").first()
    assert Campaign.objects.count() == before + 1
    assert crisis.head_hash in digest.message_fr and f"entrée n° {crisis.head_seq}" in digest.message_fr
    assert crisis.head_hash in digest.message_en and f"entry #{crisis.head_seq}" in digest.message_en
    assert digest.recipients.exists() and list(digest.channels) == ["email"]
    # Once per period.
    assert crisis_digest_due(now=crisis.declared_at + timedelta(seconds=3700)) == 0
    assert crisis_digest_due(now=crisis.declared_at + timedelta(seconds=7300)) == 1
