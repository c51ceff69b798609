"""`planblanc smpp_listen`: keep a transceiver bind open to each SMPP provider and
record delivery receipts and replies (as the Kannel callbacks do). Reconnects by itself
with back-off. SIGTERM/SIGINT unbind and stop."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management import BaseCommand, CommandError

from planblanc.alerting.channels.base import providers_for
from planblanc.alerting.channels.sms_smpp import SmppProvider
from planblanc.alerting.smpp_bind import SmppBind


class Command(BaseCommand):
    help = "Read SMPP delivery receipts and replies on a supervised transceiver bind."

    def handle(self, *args: Any, **options: Any) -> None:
        providers = [p for p in providers_for("sms") if isinstance(p, SmppProvider)]
        if not providers:
            raise CommandError("No SMPP provider in PLANBLANC_CHANNELS ({\"sms\": [{\"kind\": \"smpp\", …}]}).")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_args: stop.set())
        binds = [SmppBind(provider) for provider in providers]
        threads = [threading.Thread(target=b.run, kwargs={"stop": stop}, name=f"smpp-{b.provider.name}") for b in binds]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.stdout.write(f"{sum(b.handled for b in binds)} receipts and replies recorded")
