"""The long-running SMPP bind: a transceiver bind per SMPP provider that reads the
operator's delivery receipts and the replies from phones (deliver_sm) and records them
exactly as the Kannel callbacks do (services.sms_receipts_record and
services.sms_reply_record). Supervised: a lost or refused connection is retried with
exponential back-off (1 s doubling up to 60 s, reset once bound); an enquire_link every
30 s keeps the bind alive through NAT and firewalls.

A receipt or reply that cannot be recorded (database unavailable) is answered with
ESME_RX_T_APPN, a temporary error: the SMSC delivers it again later, nothing is lost.
Run by `planblanc smpp_listen` (one per deployment, or one per SMPP provider)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import connection

from planblanc.alerting import services
from planblanc.alerting.channels.base import Receipt, Reply, TransientError
from planblanc.alerting.channels.sms_smpp import SmppProvider, parse_deliver_sm

logger = logging.getLogger(__name__)

ESME_ROK = 0x00
ESME_RX_T_APPN = 0x64
ENQUIRE_LINK_SECONDS = 30.0


def smpp_result_record(result: Receipt | Reply) -> None:
    """What the Kannel callbacks do with a delivery report or an incoming SMS."""
    if isinstance(result, Receipt):
        services.sms_receipts_record(receipts=[result])
    else:
        services.sms_reply_record(sender=result.sender, text=result.text)


class SmppBind:
    def __init__(
        self, provider: SmppProvider, *, min_backoff: float = 1.0, max_backoff: float = 60.0,
        record: Any = smpp_result_record,
    ) -> None:
        self.provider = provider
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.delay = min_backoff
        self.retry_at = 0.0
        self.client: Any = None
        self.record = record
        self.handled = 0
        self.binds = 0
        self.last_error = ""
        self._last_enquire = 0.0

    def _on_deliver_sm(self, pdu: Any) -> int:
        try:
            result = parse_deliver_sm(pdu)
            if result is not None:
                self.record(result)
                self.handled += 1
        except Exception:  # the SMSC will deliver it again
            logger.exception("SMPP %s: could not record a deliver_sm", self.provider.name)
            return ESME_RX_T_APPN
        return ESME_ROK

    def _connect(self) -> None:
        client = self.provider._client(receiver=False, transceiver=True)
        client.set_message_received_handler(self._on_deliver_sm)
        self.client = client
        self.binds += 1
        self.delay = self.min_backoff
        self._last_enquire = time.monotonic()
        logger.info("SMPP %s: bound as transceiver", self.provider.name)

    def _drop(self, error: str) -> None:
        self.last_error = error
        if self.client is not None:
            try:
                self.client.disconnect()
            except Exception:  # noqa: BLE001 - the connection is gone anyway
                logger.debug("SMPP %s: disconnect failed", self.provider.name, exc_info=True)
        self.client = None
        self.retry_at = time.monotonic() + self.delay
        logger.warning("SMPP %s: %s; binding again in %.0f s", self.provider.name, error, self.delay)
        self.delay = min(self.max_backoff, self.delay * 2)

    def step(self, *, seconds: float = 1.0) -> int:
        """Bind if needed (when the back-off allows), then read for up to `seconds`;
        returns how many receipts and replies were recorded."""
        # smpplib is loaded only where an SMPP provider is configured.
        import smpplib.exceptions
        import smpplib.smpp

        deadline = time.monotonic() + seconds
        before = self.handled
        while time.monotonic() < deadline:
            if self.client is None:
                wait = self.retry_at - time.monotonic()
                if wait > 0:
                    time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
                    continue
                try:
                    self._connect()
                except TransientError as exc:
                    self._drop(str(exc))
                    continue
                except Exception as exc:  # noqa: BLE001 - a refused bind: retried too, slowly
                    self._drop(f"bind refused: {exc}")
                    continue
            try:
                if time.monotonic() - self._last_enquire > ENQUIRE_LINK_SECONDS:
                    self.client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=self.client))
                    self._last_enquire = time.monotonic()
                self.client._socket.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
                self.client.read_once(auto_send_enquire_link=False)
            except TimeoutError:
                continue
            except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError) as exc:
                self._drop(f"connection lost: {exc}")
        return self.handled - before

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.unbind()
            except Exception:  # noqa: BLE001 - closing anyway
                logger.debug("SMPP %s: unbind failed", self.provider.name, exc_info=True)
            self.client.disconnect()
            self.client = None

    def run(self, *, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.step(seconds=1.0)
        finally:
            self.close()

            connection.close()
