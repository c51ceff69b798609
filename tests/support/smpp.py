"""A tiny SMSC on loopback, written with smpplib's own PDU classes (no SMPP server can
be installed here: Kannel's fakesmsc speaks its own line protocol): bind,
submit_sm → submit_sm_resp with a message id, then a deliver_sm delivery receipt."""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any

import smpplib.smpp

from tests.support.smtp import free_port


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
