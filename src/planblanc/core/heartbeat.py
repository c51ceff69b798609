"""Worker heartbeats: one row per live background process, touched every
`WORKER_HEARTBEAT_SECONDS` by a thread of its own.

Two readers: the interface, which warns when no worker has beaten for a while, and the
alerting engine, which takes back the deliveries claimed by a worker whose heartbeat
stopped (`ALERTING_DEAD_WORKER_SECONDS`): a worker killed mid-campaign hands its rows
on within seconds instead of at the end of their lease.

The beat runs in a thread, not between two messages, so that a worker waiting on a
slow relay keeps its rows; a process that is frozen as a whole (SIGSTOP, swapped out
for longer than the threshold) may see its rows taken over, which then may repeat a
message with the same Message-ID — the same window as a crash."""

from __future__ import annotations

import datetime
import os
import socket
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import get_random_string

from planblanc.core.models import WorkerHeartbeat

_current: str | None = None
# When this process last wrote its heartbeat (time.monotonic()), for `heartbeat_fresh`.
_last_beat: float | None = None


def current_worker_id() -> str | None:
    """The heartbeat id of this process, if it runs a heartbeat."""
    return _current


def _beat(worker_id: str, *, started: bool = False) -> None:
    global _last_beat
    before = time.monotonic()
    now = timezone.now()
    defaults: dict[str, Any] = {"last_seen_at": now, "hostname": socket.gethostname()[:200], "pid": os.getpid()}
    if started:
        defaults["started_at"] = now
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id, defaults=defaults, create_defaults={**defaults, "started_at": now}
    )
    _last_beat = before


def heartbeat_fresh() -> bool:
    """Whether this process may go on sending what it claimed. Others take over the rows
    of a worker whose heartbeat is older than ALERTING_DEAD_WORKER_SECONDS; a worker that
    could not beat for half that time (starved of CPU, its database slow) stops before
    the next message instead of racing the worker that takes over. Processes without a
    heartbeat rely on their lease alone."""
    if _current is None or _last_beat is None:
        return True
    return time.monotonic() - _last_beat < settings.ALERTING_DEAD_WORKER_SECONDS / 2


class Heartbeat:
    """Start with `heartbeat_start`; `stop()` removes the row (a clean exit)."""

    def __init__(self, worker_id: str, on_error: Any = None) -> None:
        self.worker_id = worker_id
        self._stop = threading.Event()
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{worker_id}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(settings.WORKER_HEARTBEAT_SECONDS):
            try:
                _beat(self.worker_id)
            except Exception as exc:  # a missed beat shows in the UI; never kill the worker
                if self._on_error:
                    self._on_error(exc)
            finally:
                close_old_connections()
        connection.close()

    def stop(self) -> None:
        global _current
        self._stop.set()
        self._thread.join(timeout=2)
        WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete()
        if _current == self.worker_id:
            _current = None


def heartbeat_start(*, kind: str, on_error: Any = None) -> Heartbeat:
    """Write this process's heartbeat row now and keep it fresh from a thread."""
    global _current
    worker_id = f"{kind}-{socket.gethostname()[:30]}-{os.getpid()}-{get_random_string(6)}"[:64]
    _beat(worker_id, started=True)
    # Rows of processes dead for a day tell nothing any more.
    WorkerHeartbeat.objects.filter(last_seen_at__lt=timezone.now() - datetime.timedelta(days=1)).delete()
    beat = Heartbeat(worker_id, on_error)
    beat._thread.start()
    _current = worker_id
    return beat


def dead_worker_ids() -> QuerySet[WorkerHeartbeat, str]:
    """Workers whose heartbeat stopped: their claims may be taken over (a subquery)."""
    threshold = timezone.now() - datetime.timedelta(seconds=settings.ALERTING_DEAD_WORKER_SECONDS)
    return WorkerHeartbeat.objects.filter(last_seen_at__lt=threshold).values_list("worker_id", flat=True)
