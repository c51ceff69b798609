"""The supervised SMPP transceiver bind against a small SMSC on loopback (built from
smpplib's own PDUs, like tests/alerting/test_sms_smpp.py): receipts and replies pushed
by the SMSC are recorded as the Kannel callbacks record them, and a dropped connection
is bound again after a back-off."""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Any

import pytest
import smpplib.smpp

from planblanc.alerting.channels.base import build_providers
from planblanc.alerting.models import Acknowledgement, Delivery, DeliveryStatus
from planblanc.alerting.services import RecipientInput, campaign_create, deliveries_process
from planblanc.alerting.smpp_bind import SmppBind
from tests.support.smpp import _Sequence, make_pdu
from tests.support.smtp import free_port


class PushingSmsc:
    """Accepts any number of binds; answers submit_sm; pushes deliver_sm PDUs on demand
    to the transceiver bind; can drop it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(5)
        self.transceiver: socket.socket | None = None
        self.bound = threading.Event()
        self.binds = 0
        self.counter = 0
        self.responses: list[int] = []
        self.lock = threading.Lock()

    def __enter__(self) -> PushingSmsc:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.sock.close()
        if self.transceiver is not None:
            self.transceiver.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _read(conn: socket.socket) -> Any:
        header = conn.recv(4, socket.MSG_WAITALL)
        if len(header) < 4:
            return None
        (length,) = struct.unpack(">L", header)
        return smpplib.smpp.parse_pdu(header + conn.recv(length - 4, socket.MSG_WAITALL), client=_Sequence())

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    pdu = self._read(conn)
                except OSError:
                    return
                if pdu is None:
                    return
                if pdu.command.startswith("bind_"):
                    conn.sendall(make_pdu(f"{pdu.command}_resp", sequence=pdu.sequence, system_id="smsc").generate())
                    if pdu.command == "bind_transceiver":
                        self.binds += 1
                        self.transceiver = conn
                        self.bound.set()
                elif pdu.command == "submit_sm":
                    with self.lock:
                        self.counter += 1
                        message_id = f"S{self.counter:04d}"
                    conn.sendall(make_pdu("submit_sm_resp", sequence=pdu.sequence, message_id=message_id).generate())
                elif pdu.command == "deliver_sm_resp":
                    self.responses.append(pdu.status)
                elif pdu.command == "enquire_link":
                    conn.sendall(make_pdu("enquire_link_resp", sequence=pdu.sequence).generate())
                elif pdu.command == "unbind":
                    conn.sendall(make_pdu("unbind_resp", sequence=pdu.sequence).generate())
                    return

    def push(self, **fields: Any) -> None:
        assert self.bound.wait(5)
        assert self.transceiver is not None
        self.counter += 1
        self.transceiver.sendall(make_pdu("deliver_sm", sequence=5000 + self.counter, **fields).generate())

    def drop(self) -> None:
        self.bound.clear()
        assert self.transceiver is not None
        self.transceiver.shutdown(socket.SHUT_RDWR)
        self.transceiver.close()


def _step_until(bind: SmppBind, condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        bind.step(seconds=0.2)


@pytest.mark.django_db
def test_it_records_receipts_and_replies_and_binds_again_after_a_drop(world, settings):
    with PushingSmsc() as smsc:
        settings.ALERTING_CHANNELS = {"sms": [
            {"name": "operator", "kind": "smpp", "host": "127.0.0.1", "port": smsc.port, "timeout": 5},
        ]}
        campaign = campaign_create(
            actor=world.establishment_admin, establishment=world.chu, title="Cyberattaque", message_fr="Mode dégradé.",
            channels=["sms"], wake_workers=False,
            recipients=[RecipientInput(name="Agent A", mobile_phone="+33639980001"),
                        RecipientInput(name="Agent B", mobile_phone="+33639980002")],
        )
        deliveries_process(worker_id="w1")
        first, second = Delivery.objects.filter(campaign=campaign).order_by("id")
        assert (first.provider_message_id, second.provider_message_id) == ("smpp:S0001", "smpp:S0002")

        provider = build_providers(settings.ALERTING_CHANNELS)["sms"][0]
        bind = SmppBind(provider, min_backoff=0.2, max_backoff=1.0)
        _step_until(bind, smsc.bound.is_set)
        smsc.push(source_addr="33639980001", destination_addr="PlanBlanc", esm_class=0x04,
                  short_message=b"id:S0001 sub:001 dlvrd:001 stat:DELIVRD err:000 text:")
        _step_until(bind, lambda: bind.handled >= 1)
        first.refresh_from_db()
        assert first.status == DeliveryStatus.DELIVERED
        assert smsc.responses == [0]

        # The connection drops: the bind comes back by itself after a back-off.
        smsc.drop()
        _step_until(bind, lambda: smsc.binds >= 2)
        assert smsc.binds == 2 and "connection lost" in bind.last_error
        smsc.push(source_addr="33639980002", destination_addr="PlanBlanc", esm_class=0, short_message=b"OK")
        _step_until(bind, lambda: bind.handled >= 2)
        assert Acknowledgement.objects.get(recipient__campaign=campaign).recipient.name == "Agent B"
        smsc.push(source_addr="33639980002", destination_addr="PlanBlanc", esm_class=0x04,
                  short_message=b"id:S0002 sub:001 dlvrd:000 stat:UNDELIV err:001 text:")
        _step_until(bind, lambda: bind.handled >= 3)
        second.refresh_from_db()
        # Acknowledged already: a late bounce does not undo it.
        assert second.status == DeliveryStatus.ACKNOWLEDGED
        bind.close()


def test_it_answers_a_temporary_error_when_it_cannot_record():
    with PushingSmsc() as smsc:
        provider = build_providers({"sms": [{"name": "op", "kind": "smpp", "host": "127.0.0.1", "port": smsc.port}]})["sms"][0]

        def broken(result: Any) -> None:
            raise RuntimeError("database down")

        bind = SmppBind(provider, min_backoff=0.2, record=broken)
        _step_until(bind, smsc.bound.is_set)
        smsc.push(source_addr="33639980001", destination_addr="PlanBlanc", esm_class=0, short_message=b"OK")
        _step_until(bind, lambda: bool(smsc.responses))
        assert smsc.responses == [0x64]
        bind.close()
