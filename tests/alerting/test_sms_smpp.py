"""SMS over SMPP. No SMPP server can be installed here (Kannel's fakesmsc speaks its
own line protocol, not SMPP), so a tiny SMSC written with smpplib's own PDU classes
answers on loopback: bind, submit_sm → submit_sm_resp with a message id, then a
deliver_sm delivery receipt."""

from __future__ import annotations

from typing import Any

import pytest

from planblanc.alerting.channels.base import OutgoingMessage, Receipt, Reply
from planblanc.alerting.channels.sms_smpp import SmppProvider, parse_deliver_sm
from tests.support.smpp import TinySmsc, make_pdu
from tests.support.smtp import free_port


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
