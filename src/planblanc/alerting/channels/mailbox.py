"""Email written to a folder instead of sent: the demonstration's mailbox, and a way to
run the platform on a laptop with no relay at hand. Each message is one `.eml` file
named after its Message-ID, so a message sent again after a crash replaces its own file
instead of making a second one. Any mail client opens the files.

Options: directory (a path, relative to the data directory; "demo-mailbox"),
from ("alerte@planblanc.invalid"), from_name ("Plan Blanc Numérique").
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings

from planblanc.alerting.channels.base import (
    OutgoingMessage,
    Provider,
    SendResult,
    TransientError,
    register,
)
from planblanc.alerting.channels.email import SmtpProvider


@register
class MailboxProvider(Provider):
    kind = "mailbox"
    channel = "email"

    def __init__(self, *, name: str, options: dict[str, Any]) -> None:
        super().__init__(name=name, options=options)
        self.directory = Path(settings.DATA_DIR) / str(self.option("directory", "demo-mailbox"))
        # The same message layout as the SMTP provider: only the transport differs.
        self.writer = SmtpProvider(name=name, options={
            "host": "unused", "from": self.option("from", "alerte@planblanc.invalid"),
            "from_name": self.option("from_name", "Plan Blanc Numérique"),
        })

    def path_for(self, message: OutgoingMessage) -> Path:
        return self.directory / f"{hashlib.sha256(message.message_id.encode()).hexdigest()[:32]}.eml"

    def send(self, messages: Iterable[OutgoingMessage]) -> Iterator[SendResult]:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TransientError(f"mailbox folder not writable: {exc}") from exc
        for message in messages:
            target = self.path_for(message)
            draft = target.with_suffix(f".{os.getpid()}.tmp")
            try:
                draft.write_bytes(self.writer.build(message, eight_bit=True))
                os.replace(draft, target)  # whole file or nothing, even if killed meanwhile
            except OSError as exc:
                raise TransientError(f"mailbox folder not writable: {exc}") from exc
            yield SendResult(message.delivery_id, provider_message_id=message.message_id)
