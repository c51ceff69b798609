"""Matrix (and Tchap, the French State's Matrix service): alerts posted to a crisis room
or as direct messages to a person's Matrix ID, with matrix-nio. Replies are read back
by the bot's sync loop (alerting/matrix_bot.py, `planblanc matrix_listen`).

The address is a user ID (`@user:server`: a direct room with the bot is found or
created) or a room (`!id:server`, or an alias `#name:server` that the bot joins).
Each message is sent with a transaction ID derived from its idempotency key: a re-send
after a crash is recognised by the homeserver as the same event.

Options: homeserver (URL, required), user_id (the bot, required), access_token
(required), device_id, room (a default room for recipients without an address),
timeout (seconds, 20), rate (messages per second; a homeserver's default rate limit is
a few messages per second per user).

Rooms are not end-to-end encrypted by the bot: on Tchap, use an unencrypted crisis room
or a bot account exempt from encryption.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import aiohttp
from django.core.exceptions import ImproperlyConfigured
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinedMembersResponse,
    JoinedRoomsResponse,
    JoinResponse,
    RoomCreateResponse,
    RoomPreset,
    RoomSendResponse,
)

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

REPLY_HINT_FR = "Répondez « OK » ou « j'arrive 20 » (minutes). !mc <texte> : main courante. !etat : tableau de bord."
REPLY_HINT_EN = "Reply \"OK\" or \"j'arrive 20\" (minutes). !mc <text>: logbook. !etat: status board."


class MatrixSession:
    """A synchronous face over matrix-nio's asyncio client, one event loop of its own
    (the engine and the commands are synchronous)."""

    def __init__(self, *, homeserver: str, user_id: str, access_token: str, device_id: str = "", timeout: float = 20):
        self.loop = asyncio.new_event_loop()
        config = AsyncClientConfig(request_timeout=timeout, max_timeouts=1, max_limit_exceeded=3, encryption_enabled=False)
        self.client = AsyncClient(homeserver, user_id, device_id=device_id or None, config=config)
        self.client.access_token = access_token
        self.client.user_id = user_id
        self.user_id = user_id
        self.direct_rooms: dict[str, str] = {}
        self._scanned = False

    def run(self, coroutine: Any) -> Any:
        try:
            return self.loop.run_until_complete(coroutine)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TransientError(f"matrix: homeserver unreachable: {exc}") from exc

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.client.close())
        except Exception:  # noqa: BLE001 - closing a session that may already be broken
            logging.getLogger(__name__).debug("matrix session closed uncleanly", exc_info=True)
        finally:
            self.loop.close()

    def _scan_direct_rooms(self) -> None:
        """Rooms of exactly two members, the bot and someone: reused for direct messages."""
        self._scanned = True
        joined = self.run(self.client.joined_rooms())
        if not isinstance(joined, JoinedRoomsResponse):
            raise TransientError(f"matrix: {getattr(joined, 'message', joined)}")
        for room_id in joined.rooms:
            members = self.run(self.client.joined_members(room_id))
            if not isinstance(members, JoinedMembersResponse):
                continue
            others = [m.user_id for m in members.members if m.user_id != self.user_id]
            if len(others) == 1:
                self.direct_rooms.setdefault(others[0], room_id)

    def room_for(self, address: str) -> str:
        if address.startswith("!"):
            return address
        if address.startswith("#"):
            joined = self.run(self.client.join(address))
            if not isinstance(joined, JoinResponse):
                raise PermanentError(f"matrix: cannot join {address}: {getattr(joined, 'message', joined)}")
            return joined.room_id
        if not self._scanned:
            self._scan_direct_rooms()
        if address not in self.direct_rooms:
            created = self.run(self.client.room_create(
                is_direct=True, invite=[address], preset=RoomPreset.trusted_private_chat, name="Plan Blanc",
            ))
            if not isinstance(created, RoomCreateResponse):
                raise TransientError(f"matrix: cannot open a direct room with {address}: {getattr(created, 'message', created)}")
            self.direct_rooms[address] = created.room_id
        return self.direct_rooms[address]

    def send_text(self, room_id: str, text: str, *, txn_id: str | None = None) -> str:
        response = self.run(self.client.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": text}, tx_id=txn_id,
        ))
        if isinstance(response, RoomSendResponse):
            return response.event_id
        status = str(getattr(response, "status_code", "") or "")
        message = f"matrix: {status} {getattr(response, 'message', response)}"
        if status in ("M_FORBIDDEN", "M_UNKNOWN_TOKEN", "M_NOT_FOUND"):
            raise PermanentError(message)
        raise TransientError(message)


def session_from_options(options: dict[str, Any]) -> MatrixSession:
    return MatrixSession(
        homeserver=options["homeserver"], user_id=options["user_id"], access_token=options["access_token"],
        device_id=options.get("device_id", ""), timeout=float(options.get("timeout", 20)),
    )


def alert_text(message: OutgoingMessage) -> str:
    hint = REPLY_HINT_EN if message.language == "en" else REPLY_HINT_FR
    return f"{message.subject}\n\n{message.body}\n\n{hint}"


@register
class MatrixProvider(Provider):
    kind = "matrix"
    channel = "matrix"

    def __init__(self, *, name: str, options: dict[str, Any]) -> None:
        super().__init__(name=name, options=options)
        for key in ("homeserver", "user_id", "access_token"):
            self.option(key, required=True)
        if not str(self.options["homeserver"]).startswith(("http://", "https://")):
            raise ImproperlyConfigured(f"alerting provider {name!r} (matrix): homeserver must be an http(s) URL")
        self.room = self.option("room", "")

    def send(self, messages: Iterable[OutgoingMessage]) -> Iterator[SendResult]:
        session = session_from_options(self.options)
        try:
            for message in messages:
                address = message.address or self.room
                if not address.startswith(("@", "!", "#")):
                    yield SendResult(message.delivery_id, PERMANENT, "no Matrix ID or room")
                    continue
                txn = hashlib.sha256(message.message_id.encode()).hexdigest()[:32]
                try:
                    room_id = session.room_for(address)
                    event_id = session.send_text(room_id, alert_text(message), txn_id=txn)
                except PermanentError as exc:
                    yield SendResult(message.delivery_id, PERMANENT, str(exc)[:1000])
                    continue
                except TransientError as exc:
                    yield SendResult(message.delivery_id, TRANSIENT, str(exc)[:1000])
                    continue
                yield SendResult(message.delivery_id, provider_message_id=f"{room_id}/{event_id}"[:200])
        finally:
            session.close()
