"""SMS over SMPP 3.4 directly to an operator's SMSC, with smpplib (a small, pure-Python
client that has been kept up for years).

The provider binds as a transmitter (or a transceiver, `bind: "transceiver"`), sends
each message as one or more submit_sm (concatenated with a UDH when long) with
registered_delivery set, and reports a message as sent once the SMSC's submit_sm_resp
gives it a message id. Delivery receipts come back as deliver_sm PDUs:
`parse_deliver_sm` turns one into a Receipt (or a Reply for an incoming SMS); a
transceiver bind collects those that arrive while sending in `self.received`, and
`listen()` reads them on a receiver bind; the supervised long-running bind that records
them is alerting/smpp_bind.py (`planblanc smpp_listen`). The text is prepared exactly as for Kannel
(GSM 7-bit where possible, EXERCICE mark kept, cut to `max_parts`).

Options: host (required), port (2775), system_id, password, system_type, bind
("transmitter" or "transceiver"), from ("PlanBlanc"), max_parts (6), timeout (10).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from planblanc.alerting.channels.base import (
    PERMANENT,
    TRANSIENT,
    OutgoingMessage,
    PermanentError,
    Provider,
    Receipt,
    Reply,
    SendResult,
    TransientError,
    register,
)
from planblanc.alerting.channels.sms_kannel import sms_clean, sms_encoding, sms_fit, sms_parts

RECEIPT_RE = re.compile(rb"id:(?P<id>\S+).*?stat:(?P<stat>\w+)(?:.*?err:(?P<err>\w+))?", re.S)
# ESME_RTHROTTLED, ESME_RMSGQFUL, ESME_RSYSERR: try again later.
TRANSIENT_STATUSES = {0x58, 0x14, 0x08}


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


def parse_deliver_sm(pdu: Any) -> Receipt | Reply | None:
    """A deliver_sm: a delivery receipt (esm_class bit 2) or a message from a phone."""
    esm_class = int(getattr(pdu, "esm_class", 0) or 0)
    body = getattr(pdu, "short_message", b"") or b""
    if esm_class & 0x04:
        match = RECEIPT_RE.search(body)
        message_id = _text(getattr(pdu, "receipted_message_id", None) or (match and match.group("id")) or b"")
        if not message_id:
            return None
        stat = _text(match.group("stat")) if match else ""
        delivered = stat.upper() == "DELIVRD"
        if not delivered and stat.upper() in ("ENROUTE", "ACCEPTD"):
            return None
        return Receipt(f"smpp:{message_id}", delivered=delivered, error="" if delivered else f"SMPP receipt {stat}")
    coding = int(getattr(pdu, "data_coding", 0) or 0)
    text = body.decode("utf-16-be", "replace") if coding == 0x08 else _text(body)
    return Reply(sender=_text(getattr(pdu, "source_addr", b"")), text=text)


@register
class SmppProvider(Provider):
    kind = "smpp"
    channel = "sms"

    def __init__(self, *, name: str, options: dict[str, Any]) -> None:
        super().__init__(name=name, options=options)
        self.host = self.option("host", required=True)
        self.port = int(self.option("port", 2775))
        self.system_id = self.option("system_id", "")
        self.password = self.option("password", "")
        self.system_type = self.option("system_type", "")
        self.bind = self.option("bind", "transmitter")
        self.sender = self.option("from", "PlanBlanc")
        self.max_parts = max(1, int(self.option("max_parts", 6)))
        self.timeout = float(self.option("timeout", 10))
        self.received: list[Receipt | Reply] = []

    def _client(self, *, receiver: bool = False, transceiver: bool = False) -> Any:
        # smpplib is loaded only where an SMPP provider is configured.
        import smpplib.client
        import smpplib.exceptions

        client = smpplib.client.Client(
            self.host, self.port, timeout=self.timeout, logger_name="planblanc.smpp",
            # As the SMPP specification asks: ignore optional parameters we do not know.
            allow_unknown_opt_params=True,
        )
        client.set_message_received_handler(self._on_deliver_sm)
        try:
            client.connect()
            bind = client.bind_receiver if receiver else (
                client.bind_transceiver if transceiver or self.bind == "transceiver" else client.bind_transmitter
            )
            bind(system_id=self.system_id, password=self.password, system_type=self.system_type)
        except smpplib.exceptions.PDUError as exc:
            client.disconnect()
            raise PermanentError(f"SMPP {self.host}:{self.port} refused the bind: {exc}") from exc
        except (OSError, smpplib.exceptions.ConnectionError) as exc:
            raise TransientError(f"SMPP {self.host}:{self.port} unreachable: {exc}") from exc
        return client

    def _on_deliver_sm(self, pdu: Any) -> None:
        parsed = parse_deliver_sm(pdu)
        if parsed is not None:
            self.received.append(parsed)

    def text(self, message: OutgoingMessage) -> str:
        keep = len(message.ack_url) + 1 if message.ack_url and message.short_text.endswith(message.ack_url) else 0
        text = sms_clean(message.short_text)
        if message.reply_hint:  # the campaign asks a question: how to answer it, kept whole
            hint = " " + sms_clean(message.reply_hint)
            text, keep = text + hint, keep + len(hint)
        return sms_fit(text, max_parts=self.max_parts, keep_end=keep)

    def parts(self, message: OutgoingMessage) -> int:
        return sms_parts(self.text(message))

    def send(self, messages: Iterable[OutgoingMessage]) -> Iterator[SendResult]:
        # smpplib is loaded only where an SMPP provider is configured.
        import smpplib.consts
        import smpplib.exceptions
        import smpplib.gsm

        client = self._client()
        try:
            for message in messages:
                text = self.text(message)
                encoding = smpplib.consts.SMPP_ENCODING_DEFAULT if sms_encoding(text) == "gsm" else smpplib.consts.SMPP_ENCODING_ISO10646
                parts, coding, esm_class = smpplib.gsm.make_parts(text, encoding=encoding)
                first_id = ""
                error: SendResult | None = None
                try:
                    for part in parts:
                        client.send_message(
                            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM, source_addr=self.sender,
                            dest_addr_ton=smpplib.consts.SMPP_TON_INTL, dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                            destination_addr=message.address.lstrip("+"), short_message=part,
                            data_coding=coding, esm_class=esm_class, registered_delivery=True,
                        )
                        response = self._wait_response(client)
                        first_id = first_id or _text(getattr(response, "message_id", b""))
                except smpplib.exceptions.PDUError as exc:
                    status = exc.args[1] if len(exc.args) > 1 else 0
                    outcome = TRANSIENT if status in TRANSIENT_STATUSES else PERMANENT
                    error = SendResult(message.delivery_id, outcome, f"SMPP error {status:#x}: {exc.args[0]}")
                except (OSError, smpplib.exceptions.ConnectionError) as exc:
                    raise TransientError(f"SMPP connection lost: {exc}") from exc
                yield error or SendResult(message.delivery_id, provider_message_id=f"smpp:{first_id}")
        finally:
            with contextlib.suppress(Exception):  # closing anyway
                client.unbind()
            client.disconnect()

    @staticmethod
    def _wait_response(client: Any) -> Any:
        """Read PDUs until the submit_sm_resp (deliver_sm receipts may come first)."""
        import smpplib.exceptions

        while True:
            pdu = client.read_pdu()
            if pdu.command == "submit_sm_resp":
                if pdu.status:
                    raise smpplib.exceptions.PDUError("submit_sm refused", pdu.status)
                return pdu
            if pdu.command == "deliver_sm":
                client._message_received(pdu)
            elif pdu.command == "enquire_link":
                client._enquire_link_received(pdu)

    def listen(self, *, on_result: Callable[[Receipt | Reply], None], stop: threading.Event) -> None:
        """Bind as a receiver and hand each receipt or reply to `on_result` until
        `stop` is set."""
        client = self._client(receiver=True)

        def handle(pdu: Any) -> None:
            result = parse_deliver_sm(pdu)
            if result is not None:
                on_result(result)

        client.set_message_received_handler(handle)
        try:
            while not stop.is_set():
                try:
                    client.read_once()
                except OSError:
                    continue
        finally:
            client.disconnect()
