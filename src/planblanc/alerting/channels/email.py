"""Email over SMTP to a relay outside the hospital's network.

One connection carries up to `batch_size` messages (RSET after a refused one), then is
closed and a new one opened, so a long campaign neither holds one connection for ever
nor pays a handshake per message. The Message-ID is the delivery's own, derived from
its idempotency key: a message sent again after a crash carries the same Message-ID.

Options: host (required), port (25), ssl (false), starttls (false), username,
password, from ("alerte@planblanc.invalid"), from_name ("Plan Blanc Numérique"),
batch_size (100), timeout (seconds, 15).
"""

from __future__ import annotations

import smtplib
import ssl as ssl_module
from collections.abc import Iterable, Iterator
from email import quoprimime
from email.header import Header
from email.utils import formataddr, formatdate
from typing import Any

from planblanc.alerting.channels.base import (
    PERMANENT,
    TRANSIENT,
    OutgoingMessage,
    PermanentError,
    Provider,
    SendResult,
    TransientError,
    register,
)


def _outcome(code: int) -> str:
    return TRANSIENT if 400 <= code < 500 else PERMANENT


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@register
class SmtpProvider(Provider):
    kind = "smtp"
    channel = "email"

    def __init__(self, *, name: str, options: dict[str, Any]) -> None:
        super().__init__(name=name, options=options)
        self.host = self.option("host", required=True)
        self.port = int(self.option("port", 25))
        self.use_ssl = bool(self.option("ssl", False))
        self.starttls = bool(self.option("starttls", False))
        self.username = self.option("username", "")
        self.password = self.option("password", "")
        self.from_address = self.option("from", "alerte@planblanc.invalid")
        self.from_name = self.option("from_name", "Plan Blanc Numérique")
        self.batch_size = max(1, int(self.option("batch_size", 100)))
        self.timeout = float(self.option("timeout", 15))
        self.from_header = f"From: {formataddr((self.from_name, self.from_address), 'utf-8')}"

    def _connect(self) -> smtplib.SMTP:
        try:
            if self.use_ssl:
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl_module.create_default_context()
                )
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                conn.starttls(context=ssl_module.create_default_context())
            if self.username:
                conn.login(self.username, self.password)
            conn.ehlo_or_helo_if_needed()
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentError(f"SMTP {self.host}:{self.port} refused the login: {exc.smtp_code}") from exc
        except smtplib.SMTPResponseException as exc:
            error = f"SMTP {self.host}:{self.port} answered {exc.smtp_code} {_text(exc.smtp_error)}"
            if _outcome(exc.smtp_code) == PERMANENT:
                raise PermanentError(error) from exc
            raise TransientError(error) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientError(f"SMTP {self.host}:{self.port} unreachable: {exc}") from exc
        return conn

    def build(self, message: OutgoingMessage, *, eight_bit: bool = False) -> bytes:
        """The raw message: plain text in UTF-8, sent as is to a relay that takes
        8-bit bodies (8BITMIME, nearly all) or else quoted-printable; non-ASCII headers
        in RFC 2047 words. Written out directly: the email package's generator costs
        more per message than the SMTP exchange itself on a 10,000-message campaign."""
        subject = message.subject.replace("\r", " ").replace("\n", " ")
        if not subject.isascii() or len(subject) > 60:
            subject = Header(subject, "utf-8", header_name="Subject").encode()
        headers = [
            self.from_header,
            f"To: {formataddr((message.name, message.address), 'utf-8')}",
            f"Subject: {subject}",
            f"Message-ID: {message.message_id}",
            f"Date: {formatdate(localtime=False, usegmt=True)}",
            f"Content-Language: {message.language}",
            # Out-of-office robots must not answer an alert.
            "Auto-Submitted: auto-generated",
            "X-Auto-Response-Suppress: All",
            "MIME-Version: 1.0",
        ]
        headers += [f"{name}: {value}" for name, value in message.headers
                    if name.isascii() and value.isascii() and "\n" not in value + name and "\r" not in value + name]
        if message.html_body:
            return self._alternative(headers, message)
        headers.append('Content-Type: text/plain; charset="utf-8"')
        body = message.body.encode("utf-8")
        # SMTP lines stop at 998 octets; quoted-printable folds longer ones.
        if eight_bit and max(map(len, body.splitlines() or [b""])) < 900:
            headers.append("Content-Transfer-Encoding: 8bit")
            return ("\r\n".join(headers) + "\r\n\r\n").encode("ascii") + body
        headers.append("Content-Transfer-Encoding: quoted-printable")
        # quoprimime encodes code points < 256: give it the UTF-8 bytes, as latin-1.
        encoded = quoprimime.body_encode(body.decode("latin-1"), eol="\r\n")
        return ("\r\n".join(headers) + "\r\n\r\n" + encoded).encode("ascii")

    @staticmethod
    def _alternative(headers: list[str], message: OutgoingMessage) -> bytes:
        """Plain text and HTML as multipart/alternative, each part quoted-printable (the
        boundary is derived from the Message-ID: stable across a re-send)."""
        boundary = "=_pb_" + "".join(c for c in message.message_id if c.isalnum())[:40]
        headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        parts = []
        for subtype, text in (("plain", message.body), ("html", message.html_body)):
            encoded = quoprimime.body_encode(text.encode("utf-8").decode("latin-1"), eol="\r\n")
            parts.append(f"--{boundary}\r\nContent-Type: text/{subtype}; charset=\"utf-8\"\r\n"
                         f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{encoded}\r\n")
        return ("\r\n".join(headers) + "\r\n\r\n" + "".join(parts) + f"--{boundary}--\r\n").encode("ascii")

    def send(self, messages: Iterable[OutgoingMessage]) -> Iterator[SendResult]:
        conn: smtplib.SMTP | None = None
        on_this_connection = 0
        try:
            for message in messages:
                if conn is None or on_this_connection >= self.batch_size:
                    self._close(conn)
                    conn = None
                    conn = self._connect()
                    on_this_connection = 0
                on_this_connection += 1
                try:
                    if not message.address.isascii():
                        raise ValueError("internationalised addresses are not supported")
                    eight_bit = bool(conn.has_extn("8bitmime"))
                    email = self.build(message, eight_bit=eight_bit)
                except (ValueError, TypeError, UnicodeError) as exc:
                    yield SendResult(message.delivery_id, PERMANENT, f"invalid address: {exc}")
                    continue
                try:
                    conn.sendmail(
                        self.from_address, [message.address], email,
                        mail_options=["BODY=8BITMIME"] if eight_bit else (),
                    )
                except smtplib.SMTPRecipientsRefused as exc:
                    code, text = next(iter(exc.recipients.values()), (550, b"refused"))
                    yield SendResult(message.delivery_id, _outcome(code), f"{code} {_text(text)}")
                    if not self._rset(conn):
                        self._close(conn)
                        conn = None
                except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                    code = exc.smtp_code
                    yield SendResult(message.delivery_id, _outcome(code), f"{code} {_text(exc.smtp_error)}")
                    if not self._rset(conn):
                        self._close(conn)
                        conn = None
                except (smtplib.SMTPServerDisconnected, OSError) as exc:
                    # No 250 was read: the relay did not take responsibility for it.
                    yield SendResult(message.delivery_id, TRANSIENT, f"connection lost: {exc}")
                    self._close(conn)
                    conn = None
                else:
                    yield SendResult(message.delivery_id, provider_message_id=message.message_id)
        finally:
            self._close(conn)

    @staticmethod
    def _rset(conn: smtplib.SMTP) -> bool:
        try:
            conn.rset()
        except (OSError, smtplib.SMTPException):
            return False
        return True

    @staticmethod
    def _close(conn: smtplib.SMTP | None) -> None:
        if conn is None:
            return
        try:
            conn.quit()
        except (OSError, smtplib.SMTPException):
            conn.close()
