"""Anchoring the logbook outside the database.

The hash chain (chain.py) shows an edit by someone who does not recompute the hashes;
someone with write access to the database who recomputes every hash with the published
encoding makes the chain verify again. Two anchors outside the database stop that:

- RFC 3161 timestamps: while a crisis is active, every `LOGBOOK_ANCHOR_SECONDS` when
  new entries exist, the head hash goes to a timestamping authority
  (PLANBLANC_TSA_URL), whose signed token is kept (LogbookTimestamp, append-only for
  the application's role). `anchors_verify` checks every token's signature (against
  PLANBLANC_TSA_CA_FILE) and that its imprint is the hash of the chain *at the token's
  position*: a chain recomputed after a token was issued no longer matches it.
- The periodic digest: every `CRISIS_DIGEST_SECONDS` the crisis cell receives, through
  the alerting engine, the head number, hash and time (and its latest timestamp), so
  that copies sit in mailboxes and phones the database cannot reach.

The periodic work is one task (`logbook_anchor_tick`, crisis/tasks.py) that queues
itself again while a crisis is active."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from planblanc.actors import SystemActor
from planblanc.crisis.models import Crisis, CrisisStatus, LogbookEntry, LogbookTimestamp

logger = logging.getLogger(__name__)
# The process that sends the cell its logbook digests.
SYSTEM_ACTOR = SystemActor("logbook-digest", sends_alerts=True)


# Timestamping -------------------------------------------------------------------------------


def logbook_anchor_due(*, now: datetime | None = None) -> int:
    """Timestamp the head of every active crisis whose head moved since its last
    timestamp, at most once per LOGBOOK_ANCHOR_SECONDS each; returns how many were
    asked. Nothing without PLANBLANC_TSA_URL."""
    from planblanc.crisis.services import logbook_timestamp_head, tsa_url

    if not tsa_url():
        return 0
    now = now or timezone.now()
    interval = timedelta(seconds=settings.LOGBOOK_ANCHOR_SECONDS)
    asked = 0
    for crisis in Crisis.objects.filter(status=CrisisStatus.ACTIVE, head_seq__gt=0):
        last = LogbookTimestamp.objects.filter(crisis=crisis).aggregate(
            seq=Max("seq", filter=~_failed()), at=Max("created_at"),
        )
        if last["seq"] is not None and last["seq"] >= crisis.head_seq:
            continue  # nothing new since the last token
        if last["at"] is not None and now - last["at"] < interval:
            continue
        logbook_timestamp_head(crisis=crisis)
        asked += 1
    return asked


def _failed() -> Any:
    from django.db.models import Q

    return Q(token__isnull=True)


@dataclass(frozen=True)
class AnchorResult:
    ok: bool
    checked: int
    # The first token that no longer matches the chain, and the entries it narrows
    # the change to: after `since_seq` (the last token that still matches), up to `seq`.
    seq: int | None = None
    since_seq: int = 0
    gen_time: datetime | None = None
    first_changed_seq: int | None = None
    reason: str = ""

    def describe(self) -> str:
        return self.reason


def _verifier() -> Any:
    import cryptography.x509
    import rfc3161_client

    path = settings.LOGBOOK_TSA_CA_FILE
    if not path:
        return None
    pem = Path(path).read_bytes()
    builder = rfc3161_client.VerifierBuilder()
    for certificate in cryptography.x509.load_pem_x509_certificates(pem):
        builder = builder.add_root_certificate(certificate)
    return builder.build()


def anchors_verify(crisis: Crisis) -> AnchorResult:
    """Check every timestamp token of the crisis against the chain as it stands (call
    after chain.logbook_verify passed: stored hashes are then the recomputed ones)."""
    import rfc3161_client

    stamps = list(LogbookTimestamp.objects.filter(crisis=crisis, token__isnull=False).order_by("seq", "id"))
    if not stamps:
        return AnchorResult(ok=True, checked=0)
    hashes = dict(LogbookEntry.objects.filter(crisis=crisis, seq__in={s.seq for s in stamps}).values_list(
        "seq", "entry_hash"
    ))
    verifier = _verifier()
    since = 0
    for stamp in stamps:
        try:
            response = rfc3161_client.decode_timestamp_response(bytes(stamp.token))
        except Exception as exc:  # a token that does not even parse was altered
            return _changed(crisis, stamp, since, None, _("its timestamp token is unreadable (%(error)s).") % {
                "error": exc})
        gen_time = response.tst_info.gen_time
        current = hashes.get(stamp.seq)
        imprint = response.tst_info.message_imprint.message
        if current is None or hashlib.new(_algorithm(response), bytes.fromhex(current)).digest() != imprint:
            return _changed(crisis, stamp, since, gen_time, _(
                "the chain at entry #%(seq)d is not the one timestamped at %(time)s: an entry from #%(first)d "
                "to #%(seq)d was changed and the hashes recomputed after that time."
            ) % {"seq": stamp.seq, "time": gen_time.isoformat(), "first": since + 1})
        if verifier is not None:
            try:
                verifier.verify(response, imprint)
            except Exception as exc:
                return _changed(crisis, stamp, since, gen_time, _(
                    "the timestamp of entry #%(seq)d is not signed by a trusted authority (%(error)s)."
                ) % {"seq": stamp.seq, "error": exc})
        since = stamp.seq
    return AnchorResult(ok=True, checked=len(stamps), since_seq=since)


def _algorithm(response: Any) -> str:
    oid = response.tst_info.message_imprint.hash_algorithm.dotted_string
    return {"2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384",
            "2.16.840.1.101.3.4.2.3": "sha512"}.get(oid, "sha512")


def _changed(
    crisis: Crisis, stamp: LogbookTimestamp, since: int, gen_time: datetime | None, reason: str,
) -> AnchorResult:
    """Name the first entry that changed: the first one, after the last token that
    still matches, whose hash differs from the one the audit log recorded when it was
    written (the audit log is append-only too); else the range."""
    from planblanc.accounts.models import AuditEntry

    first = None
    recorded = {
        entry.changes.get("seq"): entry.changes.get("hash")
        for entry in AuditEntry.objects.filter(action="crisis.logbook_append", changes__seq__gt=since)
        .filter(changes__seq__lte=stamp.seq).only("changes")
        if isinstance(entry.changes, dict)
    }
    for seq, entry_hash in LogbookEntry.objects.filter(
        crisis=crisis, seq__gt=since, seq__lte=stamp.seq
    ).order_by("seq").values_list("seq", "entry_hash"):
        if recorded.get(seq) and recorded[seq] != entry_hash:
            first = seq
            break
    if first is not None:
        reason += " " + _("The first entry that changed is #%(seq)d.") % {"seq": first}
    return AnchorResult(
        ok=False, checked=0, seq=stamp.seq, since_seq=since, gen_time=gen_time, first_changed_seq=first,
        reason=reason,
    )


# Digest -------------------------------------------------------------------------------------


def crisis_digest_due(*, now: datetime | None = None) -> int:
    """Send the periodic digest (head number, hash and time) to the cell of every
    active crisis whose last digest is older than CRISIS_DIGEST_SECONDS; returns how
    many went out. The crisis's alert recipients receive it by email."""
    if settings.CRISIS_DIGEST_SECONDS <= 0:
        return 0
    now = now or timezone.now()
    due_before = now - timedelta(seconds=settings.CRISIS_DIGEST_SECONDS)
    sent = 0
    for crisis in Crisis.objects.filter(status=CrisisStatus.ACTIVE, head_seq__gt=0).select_related(
        "establishment", "campaign"
    ):
        last = crisis.digest_sent_at or crisis.declared_at
        if last > due_before:
            continue
        # The claim: of two workers, one moves the mark.
        if not Crisis.objects.filter(pk=crisis.pk, digest_sent_at=crisis.digest_sent_at).update(digest_sent_at=now):
            continue
        if crisis_digest_send(crisis=crisis, now=now):
            sent += 1
    return sent


def digest_text(*, crisis: Crisis, language: str) -> str:
    stamp = LogbookTimestamp.objects.filter(crisis=crisis, token__isnull=False).order_by("-seq", "-id").first()
    at = LogbookEntry.objects.filter(crisis=crisis, seq=crisis.head_seq).values_list("at", flat=True).first()
    with translation.override(language):
        lines = [
            _("Logbook of crisis %(number)d (%(establishment)s): %(count)d entries.") % {
                "number": crisis.pk, "establishment": crisis.establishment.name, "count": crisis.head_seq},
            _("Head: entry #%(seq)d of %(time)s UTC, hash %(hash)s.") % {
                "seq": crisis.head_seq, "time": at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if at else "-",
                "hash": crisis.head_hash},
        ]
        if stamp is not None and stamp.gen_time:
            lines.append(_("Last timestamp: entry #%(seq)d at %(time)s UTC.") % {
                "seq": stamp.seq, "time": stamp.gen_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")})
        lines.append(_("Keep this message: it lets anyone check later that the logbook was not rewritten."))
    # Braces would be read as template fields by the alerting engine.
    return "\n".join(lines).replace("{", "(").replace("}", ")")


def crisis_digest_send(*, crisis: Crisis, now: datetime) -> bool:
    from planblanc.alerting.models import Recipient
    from planblanc.alerting.services import RecipientInput, campaign_create

    if crisis.campaign_id is None:
        return False
    recipients = [
        RecipientInput(
            name=r.name, language=r.language, email=r.email, establishment_name=r.establishment_name, person=r.person,
        )
        for r in Recipient.objects.filter(campaign_id=crisis.campaign_id).exclude(email="").select_related("person")
    ]
    if not recipients:
        return False
    with translation.override("fr"):
        title = _("Logbook digest, crisis %(number)d") % {"number": crisis.pk}
    campaign_create(
        actor=SYSTEM_ACTOR, title=title, message_fr=digest_text(crisis=crisis, language="fr"),
        message_en=digest_text(crisis=crisis, language="en"), recipients=recipients, channels=["email"],
        establishment=crisis.establishment, is_exercise=crisis.is_exercise,
    )
    return True
