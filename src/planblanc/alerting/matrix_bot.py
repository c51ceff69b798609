"""The Matrix bot's reading side: a sync loop that reads replies in the rooms the bot
is in and answers them (alerting/chat.py decides what a reply does). Run by every
`planblanc alert_worker` when a Matrix provider is configured (or on its own by
`planblanc matrix_listen`), supervised: a homeserver that goes away is retried with
exponential back-off (1 s doubling up to 60 s), and the loop resumes where it stopped
(the sync token is kept in the database, ChatSyncPoint), so no reply is read twice or
skipped.

One process at a time reads, whatever the number of workers and machines: the reader
holds a lease in the database (a row of the pacing table, renewed after every sync, 45 s
long) and the others wait to take it over when it is not renewed (a killed worker); the
next holder resumes from the token the last one saved. A holder whose lease has been
taken over saves nothing (its token is older than the new holder's).

Invitations from people known to the platform are accepted (someone can open a direct
room with the bot); others are left alone."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from nio import InviteMemberEvent, RoomMessageText, SyncResponse

from planblanc.accounts.audit import audit_record
from planblanc.actors import CRISIS_PROCESS, SystemActor
from planblanc.alerting.channels.base import TransientError, providers_for
from planblanc.alerting.channels.matrix import MatrixSession, session_from_options
from planblanc.alerting.chat import chat_message_handle
from planblanc.alerting.models import ChatRoom, ChatSyncPoint
from planblanc.alerting.services import RecipientInput, campaign_create
from planblanc.directory.models import Person

logger = logging.getLogger(__name__)


def matrix_options() -> dict[str, Any] | None:
    """The first Matrix provider's options (the bot that also reads)."""
    providers = providers_for("matrix")
    return dict(providers[0].options) if providers else None


class MatrixListener:
    def __init__(self, options: dict[str, Any], *, lease: ReaderLease | None = None) -> None:
        self.options = options
        self.name = f"matrix-listener:{options.get('user_id', '')}"[:100]
        # Before the resume point moved to the database it was a file of the data directory.
        self.legacy_file = Path(settings.DATA_DIR) / f"matrix_sync_{_safe(options.get('user_id', ''))}"
        self.lease = lease
        self.session: MatrixSession | None = None
        self.handled = 0

    def _since(self) -> str | None:
        token = ChatSyncPoint.objects.filter(name=self.name).values_list("token", flat=True).first()
        if token:
            return token
        try:
            return self.legacy_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def _save(self, token: str) -> None:
        """Keep the resume point; under a lease, only while it is still ours (checked and
        written in one transaction that locks the lease's row)."""
        with transaction.atomic():
            if self.lease is not None and not self.lease.still_held():
                return
            ChatSyncPoint.objects.update_or_create(name=self.name, defaults={"token": token})

    def sync_once(self, *, timeout_ms: int = 30_000) -> int:
        """One long-poll; handles what arrived and returns how many messages."""
        if self.session is None:
            self.session = session_from_options(self.options)
        session = self.session
        since = self._since()
        response = session.run(session.client.sync(
            timeout=timeout_ms if since else 0, since=since, full_state=since is None,
        ))
        if not isinstance(response, SyncResponse):
            raise TransientError(f"matrix sync: {getattr(response, 'message', response)}")
        count = 0
        if since is not None:  # the first sync only marks where reading starts
            count = self._handle(response)
        self._save(response.next_batch)
        return count

    def _handle(self, response: SyncResponse) -> int:
        session = self.session
        assert session is not None
        count = 0
        for room_id, info in response.rooms.invite.items():
            inviter = next((e.sender for e in info.invite_state if isinstance(e, InviteMemberEvent)), "")
            if inviter and Person.objects.filter(matrix_id=inviter).exists():
                session.run(session.client.join(room_id))
        for room_id, info in response.rooms.join.items():
            for event in info.timeline.events:
                if not isinstance(event, RoomMessageText) or event.sender == session.user_id:
                    continue
                answer = chat_message_handle(sender=event.sender, room_id=room_id, text=event.body)
                count += 1
                session.send_text(room_id, answer.text, txn_id=f"re-{event.event_id}"[:64])
        self.handled += count
        return count

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    def run(self, *, stop: threading.Event, timeout_ms: int = 30_000, max_backoff: float = 60.0) -> None:
        """Read until `stop`, while holding the reader's lease (waiting for it while
        another process holds it); failures back off exponentially."""
        delay = 1.0
        lease = self.lease = ReaderLease(self.name)
        # A sync must end well within the lease, which is renewed after each.
        timeout_ms = min(timeout_ms, int(LEASE_SECONDS * 1000 / 3))
        try:
            while not stop.is_set():
                try:
                    if not lease.hold():
                        self.close()
                        stop.wait(LEASE_SECONDS / 3)
                        continue
                    self.sync_once(timeout_ms=timeout_ms)
                    delay = 1.0
                except Exception:  # supervised: log, back off, reconnect
                    logger.exception("matrix listener: sync failed, retrying in %.0f s", delay)
                    self.close()
                    stop.wait(delay)
                    delay = min(max_backoff, delay * 2)
        finally:
            self.close()
            lease.release()


LEASE_SECONDS = 45.0
# The long-poll of a worker's listener: how long a stopping worker may wait for it.
LISTENER_POLL_SECONDS = 10


class ReaderLease:
    """A lease held by one process at a time, in a row of the pacing table (`next_at`:
    when it ends). Only the holder knows the exact end it wrote, so only it can renew;
    anyone may take it once it has ended."""

    def __init__(self, name: str) -> None:
        self.name = name[:100]
        self.until: float | None = None

    def hold(self) -> bool:
        """Take or renew the lease; False while another process holds it."""
        import time

        from django.db import IntegrityError, connection, transaction

        from planblanc.alerting.models import ProviderPace

        now = time.time()
        until = now + LEASE_SECONDS
        rows = ProviderPace.objects.filter(name=self.name)
        if self.until is not None:
            taken = rows.filter(next_at=self.until).update(next_at=until)
        else:
            taken = rows.filter(next_at__lt=now).update(next_at=until)
            if not taken and not rows.exists():
                try:
                    with transaction.atomic():
                        ProviderPace.objects.create(name=self.name, next_at=until)
                    taken = 1
                except IntegrityError:
                    taken = 0
        self.until = until if taken else None
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
        return self.until is not None

    def still_held(self) -> bool:
        """Inside a transaction: whether the lease is still ours, its row locked until the
        transaction ends (a takeover waits for it)."""
        from planblanc.alerting.models import ProviderPace

        if self.until is None:
            return False
        return ProviderPace.objects.select_for_update().filter(name=self.name, next_at=self.until).exists()

    def release(self) -> None:
        from django.db import DatabaseError

        from planblanc.alerting.models import ProviderPace

        if self.until is None:
            return
        try:
            ProviderPace.objects.filter(name=self.name, next_at=self.until).update(next_at=0)
        except DatabaseError:  # the lease then ends by itself
            logger.warning("matrix listener: could not release the lease")
        self.until = None


def listener_start(*, stop: threading.Event) -> threading.Thread | None:
    """For the alert worker: read Matrix replies in a thread of its own when a Matrix
    provider is configured (None otherwise). The thread ends when `stop` is set."""
    options = matrix_options()
    if options is None:
        return None

    def run() -> None:
        from django.db import connection

        try:
            MatrixListener(options).run(stop=stop, timeout_ms=LISTENER_POLL_SECONDS * 1000)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="matrix-listener", daemon=True)
    thread.start()
    return thread


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)[:80]


def crisis_room_open(*, crisis_id: int) -> str | None:
    """Open a Matrix room for a crisis and invite its cell (people with a Matrix ID);
    returns the room ID (None when no Matrix provider is configured)."""
    # Crisis is a layer above alerting (known exception in the layers contract): imported when used.
    from planblanc.crisis.models import Crisis
    from planblanc.crisis.services import crisis_cell_person_ids

    options = matrix_options()
    if options is None:
        return None
    existing = ChatRoom.objects.filter(crisis_id=crisis_id).first()
    if existing is not None:
        return existing.room_id
    crisis = Crisis.objects.select_related("establishment").get(pk=crisis_id)
    invite = sorted(set(
        Person.objects.filter(pk__in=crisis_cell_person_ids(crisis=crisis)).exclude(matrix_id="")
        .values_list("matrix_id", flat=True)
    ))
    # matrix-nio is loaded only where a Matrix room is opened.
    from nio import RoomCreateResponse, RoomPreset

    session = session_from_options(options)
    try:
        prefix = "EXERCICE — " if crisis.is_exercise else ""
        created = session.run(session.client.room_create(
            name=f"{prefix}Cellule de crise — {crisis.establishment.name}"[:200], invite=invite,
            preset=RoomPreset.private_chat,
            topic="Répondez OK ou « j'arrive 20 ». !mc <texte> : main courante. !etat : tableau de bord.",
        ))
        if not isinstance(created, RoomCreateResponse):
            raise TransientError(f"matrix: {getattr(created, 'message', created)}")
    finally:
        session.close()


    with transaction.atomic():
        room = ChatRoom.objects.create(room_id=created.room_id, crisis=crisis)
        audit_record(
            actor=SystemActor("matrix"), action="alerting.chat_room_open", obj=room, establishment=crisis.establishment,
            changes={"crisis": crisis.pk, "invited": len(invite)},
        )
        alert = crisis.campaign
        if alert is not None:
            # The cell's alert, posted in the room through the outbox (retried like any other).
            campaign_create(
                actor=CRISIS_PROCESS, title=alert.title, message_fr=alert.message_fr, message_en=alert.message_en,
                recipients=[RecipientInput(name="Salon de crise", matrix_id=room.room_id)], channels=["matrix"],
                establishment=crisis.establishment, is_exercise=crisis.is_exercise,
            )
    return room.room_id
