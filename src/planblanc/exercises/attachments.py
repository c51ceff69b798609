"""Inject attachments: real files handed with an inject (a fake email's PDF, a photo of
a ransom note). Bounded by the platform's upload cap (settings.PLANBLANC_MAX_UPLOAD_BYTES,
the same as every upload), typed by their first bytes rather than by their name, stored
under the data dir by SHA-256, shown to an inject's recipients once it is fired."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import unicodedata
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
from planblanc.core.tabular import max_upload_bytes
from planblanc.exercises.models import ExerciseRun, Inject, InjectAttachment, InjectRun, InjectState

# At most this many files per inject.
MAX_FILES_PER_INJECT = 10

# Content type by the file's first bytes; text is accepted when it decodes as UTF-8.
_SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"ID3", "audio/mpeg"),
]


def sniff(content: bytes) -> str | None:
    """The content type the bytes show, None when the type is not accepted."""
    for signature, content_type in _SIGNATURES:
        if content.startswith(signature):
            return content_type
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content[:4] == b"RIFF" and content[8:12] == b"WAVE":
        return "audio/wav"
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text or re.search(r"(?i)<\s*(html|script|svg)\b", text[:2048]):
        return None  # markup would run in our origin if someone opened it inline
    return "text/plain"


def _safe_name(name: str) -> str:
    name = unicodedata.normalize("NFC", os.path.basename(name or "").strip()) or "file"
    return re.sub(r"[^\w.\- ]", "_", name)[:120]


def inject_attachment_add(*, actor: Actor, inject: Inject, name: str, content: bytes) -> InjectAttachment:
    """Store a file with the inject: refused above the upload cap, of a type other than
    PDF, image, audio or plain text, or past MAX_FILES_PER_INJECT."""
    rights.require_prepare_exercises(actor, inject.exercise.establishment)
    limit = max_upload_bytes()
    if not content:
        raise ValidationError({"file": [_("The file is empty.")]})
    if len(content) > limit:
        raise ValidationError({"file": [_("The file is larger than %(size)d MB.") % {"size": limit // 2**20}]})
    content_type = sniff(content)
    if content_type is None:
        raise ValidationError({"file": [_("Only PDF, images (PNG, JPEG, GIF, WebP), sound (MP3, WAV) and plain "
                                          "text can be attached.")]})
    if inject.files.count() >= MAX_FILES_PER_INJECT:
        raise ValidationError({"file": [_("An inject holds at most %(count)d files.") % {
            "count": MAX_FILES_PER_INJECT}]})
    digest = hashlib.sha256(content).hexdigest()
    relative = Path("exercises") / str(inject.exercise_id) / f"{digest[:16]}-{_safe_name(name)}"
    target = Path(settings.DATA_DIR) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
        tmp.write_bytes(content)
        os.replace(tmp, target)
    with transaction.atomic():
        attachment = InjectAttachment.objects.create(
            inject=inject, name=unicodedata.normalize("NFC", os.path.basename(name or "").strip())[:255] or "file",
            sha256=digest, size_bytes=len(content), content_type=content_type, path=str(relative))
        audit_record(actor=actor, action="exercise.inject_attachment_add", obj=attachment,
                     establishment=inject.exercise.establishment,
                     changes={"inject": inject.number, "sha256": digest, "size": len(content)})
    return attachment


def inject_attachment_delete(*, actor: Actor, attachment: InjectAttachment) -> None:
    inject = attachment.inject
    rights.require_prepare_exercises(actor, inject.exercise.establishment)
    with transaction.atomic():
        audit_record(actor=actor, action="exercise.inject_attachment_delete", obj=attachment,
                     establishment=inject.exercise.establishment,
                     changes={"inject": inject.number, "sha256": attachment.sha256})
        attachment.delete()


def attachment_content(attachment: InjectAttachment) -> bytes:
    """The stored bytes, checked against the SHA-256 recorded at upload."""
    content = (Path(settings.DATA_DIR) / attachment.path).read_bytes()
    if hashlib.sha256(content).hexdigest() != attachment.sha256:
        raise ValidationError(_("The stored file no longer matches its SHA-256."))
    return content


def attachment_for_player(*, run: ExerciseRun, attachment: InjectAttachment, cell: str) -> bool:
    """A player sees a file once its inject is fired to them: sent or taken in hand, to
    their cell or to everyone (the inbox's rule)."""
    rows = InjectRun.objects.filter(run=run, inject_id=attachment.inject_id,
                                    state__in=(InjectState.SENT, InjectState.TAKEN))
    if cell:
        target = attachment.inject.target_cell.strip().lower()
        if target and target != cell.strip().lower():
            return False
    return rows.exists()
