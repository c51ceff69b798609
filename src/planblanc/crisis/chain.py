"""The logbook's hash chain: canonical encoding of an entry, its hash, and verification.

entry_hash = SHA-256 over the canonical encoding of the entry: JSON with sorted keys, no
whitespace, UTF-8; times in UTC ISO 8601 with microseconds; text in Unicode NFC. The
encoding holds the crisis, the number, the time, the author, the kind, the text, the
number of the corrected entry, the attachments (name, size, SHA-256) and the previous
entry's hash (64 zeros for the first). Anyone can recompute it from an export.

Changing this encoding breaks every existing chain: add a new `v` instead.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from planblanc.crisis.models import GENESIS_HASH, Crisis, LogbookEntry

ENCODING_VERSION = 1


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text or "")


def utc_iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_entry(
    *, crisis_id: int, seq: int, at: datetime.datetime, author: str, kind: str, text: str,
    corrects_seq: int | None, attachments: list[dict[str, Any]], prev_hash: str,
) -> bytes:
    document = {
        "v": ENCODING_VERSION,
        "crisis": crisis_id,
        "seq": seq,
        "at": utc_iso(at),
        "author": nfc(author),
        "kind": kind,
        "text": nfc(text),
        "corrects": corrects_seq,
        "attachments": sorted(
            ({"name": nfc(a["name"]), "size": int(a["size"]), "sha256": a["sha256"]} for a in attachments),
            key=lambda a: (a["sha256"], a["name"]),
        ),
        "prev": prev_hash,
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_digest(**fields: Any) -> str:
    return hashlib.sha256(canonical_entry(**fields)).hexdigest()


def digest_of_row(entry: LogbookEntry, *, corrects_seq: int | None, attachments: list[dict[str, Any]]) -> str:
    return entry_digest(
        crisis_id=entry.crisis_id, seq=entry.seq, at=entry.at, author=entry.author_label, kind=entry.kind,
        text=entry.text, corrects_seq=corrects_seq, attachments=attachments, prev_hash=entry.prev_hash,
    )


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    head_hash: str
    # The first bad entry (its number; None when the problem is not one row) and why.
    bad_seq: int | None = None
    bad_entry_id: int | None = None
    reason: str = ""

    def describe(self) -> str:
        if self.ok:
            return _("Logbook intact: %(count)d entries, head %(head)s.") % {
                "count": self.count, "head": self.head_hash,
            }
        if self.bad_seq is not None:
            return _("Entry #%(seq)d: %(reason)s") % {"seq": self.bad_seq, "reason": self.reason}
        return self.reason


def logbook_verify(crisis: Crisis, *, check_files: bool = True) -> VerifyResult:
    """Walk the chain in order of number and return the first bad entry with the reason:
    edited (its content no longer gives its hash), deleted (a number is missing, or the
    recorded head is gone), inserted or reordered (it does not follow the entry before
    it), or an attachment whose stored file changed."""
    head = Crisis.objects.filter(pk=crisis.pk).values("head_seq", "head_hash").get()
    rows = list(
        LogbookEntry.objects.filter(crisis_id=crisis.pk).order_by("seq", "id").values(
            "id", "seq", "at", "author_label", "kind", "text", "corrects_id", "prev_hash", "entry_hash",
        )
    )
    seq_of = {row["id"]: row["seq"] for row in rows}
    from planblanc.crisis.models import LogbookAttachment

    attachments: dict[int, list[dict[str, Any]]] = {}
    for att in LogbookAttachment.objects.filter(entry__crisis_id=crisis.pk).values(
        "entry_id", "name", "size_bytes", "sha256", "path"
    ):
        attachments.setdefault(att["entry_id"], []).append(
            {"name": att["name"], "size": att["size_bytes"], "sha256": att["sha256"], "path": att["path"]}
        )
    previous = GENESIS_HASH
    expected_seq = 1
    for row in rows:
        def bad(reason: str, row: dict[str, Any] = row, previous: str = previous) -> VerifyResult:
            return VerifyResult(
                ok=False, count=len(rows), head_hash=previous, bad_seq=row["seq"], bad_entry_id=row["id"],
                reason=reason,
            )

        if row["seq"] != expected_seq:
            if row["seq"] > expected_seq:
                return bad(_("entry #%(missing)d before it is missing (deleted).") % {"missing": expected_seq})
            return bad(_("its number repeats an earlier one (inserted or reordered)."))
        if row["prev_hash"] != previous:
            return bad(_("it does not follow the entry before it (an entry was inserted, deleted or reordered)."))
        files = attachments.get(row["id"], [])
        digest = entry_digest(
            crisis_id=crisis.pk, seq=row["seq"], at=row["at"], author=row["author_label"], kind=row["kind"],
            text=row["text"], corrects_seq=seq_of.get(row["corrects_id"]) if row["corrects_id"] else None,
            attachments=files, prev_hash=row["prev_hash"],
        )
        if digest != row["entry_hash"]:
            return bad(_("its content does not match its hash (edited)."))
        if check_files:
            for item in files:
                stored = Path(settings.DATA_DIR) / item["path"]
                actual = _file_sha256(stored)
                if actual != item["sha256"]:
                    return bad(
                        _("its attachment %(name)s was changed or removed on disk.") % {"name": item["name"]}
                    )
        previous = row["entry_hash"]
        expected_seq += 1
    if head["head_seq"] != len(rows) or head["head_hash"] != previous:
        if head["head_seq"] > len(rows):
            reason = _("the last entries up to #%(seq)d are missing (deleted).") % {"seq": head["head_seq"]}
        else:
            reason = _("the chain does not end at the recorded head #%(seq)d (entries added outside the platform).") % {
                "seq": head["head_seq"]
            }
        last = rows[-1] if rows else None
        return VerifyResult(
            ok=False, count=len(rows), head_hash=previous,
            bad_seq=last["seq"] if last and head["head_seq"] < len(rows) else None,
            bad_entry_id=last["id"] if last and head["head_seq"] < len(rows) else None,
            reason=reason,
        )
    return VerifyResult(ok=True, count=len(rows), head_hash=previous)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 16), b""):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()
