"""SMS over SMPP. No SMPP server can be installed here (Kannel's fakesmsc speaks its
own line protocol, not SMPP), so a tiny SMSC written with smpplib's own PDU classes
answers on loopback: bind, submit_sm → submit_sm_resp with a message id, then a
deliver_sm delivery receipt."""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any

import pytest
import smpplib.smpp

from planblanc.alerting.channels.base import OutgoingMessage, Receipt, Reply
from planblanc.alerting.channels.sms_smpp import SmppProvider, parse_deliver_sm
from tests.alerting.smtp import free_port


class _Sequence:
    """What smpplib's PDU classes ask of a client: sequence numbers."""

    def __init__(self) -> None:
        self.sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


def make_pdu(command: str, sequence: int | None = None, status: int = 0, **kwargs: Any) -> Any:
    pdu = smpplib.smpp.make_pdu(command, client=_Sequence(), **kwargs)
    if sequence is not None:
        pdu.sequence = sequence
    pdu.status = status
    return pdu


class TinySmsc:
    """Accepts one ESME at a time; records each submit_sm's text."""

    def __init__(self, *, refuse_bind: bool = False) -> None:
        self.port = free_port()
        self.refuse_bind = refuse_bind
        self.submitted: list[tuple[str, bytes]] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.counter = 0

    def __enter__(self) -> TinySmsc:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.sock.close()

    def _read(self, conn: socket.socket) -> Any:
        header = conn.recv(4, socket.MSG_WAITALL)
        if len(header) < 4:
            return None
        (length,) = struct.unpack(">L", header)
        return smpplib.smpp.parse_pdu(header + conn.recv(length - 4, socket.MSG_WAITALL), client=_Sequence())

    def _serve(self) -> None:
        try:
            conn, _addr = self.sock.accept()
        except OSError:
            return
        with conn:
            while True:
                pdu = self._read(conn)
                if pdu is None:
                    return
                if pdu.command.startswith("bind_"):
                    # 0x0E: ESME_RINVPASWD
                    resp = make_pdu(f"{pdu.command}_resp", sequence=pdu.sequence, status=0x0E if self.refuse_bind else 0,
                                    system_id="tiny")
                    conn.sendall(resp.generate())
                elif pdu.command == "submit_sm":
                    self.counter += 1
                    message_id = f"M{self.counter:04d}"
                    self.submitted.append((pdu.destination_addr.decode(), pdu.short_message))
                    resp = make_pdu("submit_sm_resp", sequence=pdu.sequence, message_id=message_id)
                    conn.sendall(resp.generate())
                    receipt = make_pdu(
                        "deliver_sm", sequence=1000 + self.counter, source_addr=pdu.destination_addr.decode(),
                        destination_addr=pdu.source_addr.decode(), esm_class=0x04,
                        short_message=f"id:{message_id} sub:001 dlvrd:001 stat:DELIVRD err:000 text:".encode(),
                    )
                    conn.sendall(receipt.generate())
                elif pdu.command == "unbind":
                    conn.sendall(make_pdu("unbind_resp", sequence=pdu.sequence).generate())
                    return


def _message(i: int, **kwargs: Any) -> OutgoingMessage:
    defaults: dict[str, Any] = {
        "delivery_id": i, "idempotency_key": f"5:{i}:sms:0", "message_id": "", "address": f"+3363998{i:04d}",
        "name": "X", "language": "fr", "subject": "", "body": "",
        "short_text": "EXERCICE EXERCICE EXERCICE Alerte\u00a0: rejoignez la cellule", "ack_url": "",
        "is_exercise": True,
    }
    return OutgoingMessage(**{**defaults, **kwargs})


def test_it_submits_with_a_delivery_receipt_requested_and_reads_the_receipts():
    with TinySmsc() as smsc:
        provider = SmppProvider(name="smpp", options={"host": "127.0.0.1", "port": smsc.port, "bind": "transceiver",
                                                      "system_id": "pb", "password": "pw", "timeout": 5})
        results = list(provider.send([_message(1), _message(2)]))
    assert [(r.delivery_id, r.outcome, r.provider_message_id) for r in results] == [
        (1, "sent", "smpp:M0001"), (2, "sent", "smpp:M0002"),
    ]
    assert smsc.submitted[0] == ("33639980001", b"EXERCICE EXERCICE EXERCICE Alerte : rejoignez la cellule")
    # The receipts that came in while sending, ready for delivery_record_receipt.
    assert Receipt("smpp:M0001", delivered=True) in provider.received


def test_it_reports_a_refused_bind_as_permanent():
    from planblanc.alerting.channels.base import PermanentError, TransientError

    with TinySmsc(refuse_bind=True) as smsc:
        provider = SmppProvider(name="smpp", options={"host": "127.0.0.1", "port": smsc.port, "timeout": 5})
        with pytest.raises(PermanentError):
            list(provider.send([_message(1)]))
    provider = SmppProvider(name="smpp", options={"host": "127.0.0.1", "port": free_port(), "timeout": 2})
    with pytest.raises(TransientError):
        list(provider.send([_message(1)]))


def test_it_parses_receipts_and_replies():
    receipt = make_pdu(
        "deliver_sm", esm_class=0x04, short_message=b"id:ABC sub:001 dlvrd:000 stat:UNDELIV err:001 text:",
    )
    parsed = parse_deliver_sm(receipt)
    assert parsed == Receipt("smpp:ABC", delivered=False, error="SMPP receipt UNDELIV")
    reply = make_pdu("deliver_sm", esm_class=0, source_addr="33639980001", short_message=b"OK 12")
    assert parse_deliver_sm(reply) == Reply(sender="33639980001", text="OK 12")
