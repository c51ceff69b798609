"""A real Synapse homeserver for the Matrix channel's tests: loopback only, SQLite, a
random port, no federation, no outbound traffic, rate limits lifted; users registered
through the shared-secret admin API (what `register_new_matrix_user` uses). Started once
per test session, with a bounded wait."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.support.smtp import free_port

SERVER_NAME = "hopital.test"
STARTUP_SECONDS = 120  # a loaded machine: the imports alone take seconds


def _config(directory: Path, port: int, secret: str) -> str:
    lifted = {"per_second": 1000, "burst_count": 1000}
    config = {
        "server_name": SERVER_NAME,
        "pid_file": str(directory / "homeserver.pid"),
        "listeners": [{
            "port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False, "x_forwarded": False,
            "resources": [{"names": ["client"], "compress": False}],
        }],
        "database": {"name": "sqlite3", "args": {"database": str(directory / "homeserver.db")}},
        "media_store_path": str(directory / "media"),
        "signing_key_path": str(directory / "signing.key"),
        "registration_shared_secret": secret,
        "macaroon_secret_key": secret + "-macaroon",
        "form_secret": secret + "-form",
        "report_stats": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "enable_registration": False,
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "enable_metrics": False,
        "rc_message": lifted, "rc_registration": lifted, "rc_joins": {"local": lifted, "remote": lifted},
        "rc_login": {"address": lifted, "account": lifted, "failed_attempts": lifted},
        "rc_invites": {"per_room": lifted, "per_user": lifted, "per_issuer": lifted},
        "rc_room_creation": lifted,
        "log_config": str(directory / "log.yaml"),
    }
    return json.dumps(config)  # JSON is YAML


LOG_CONFIG = """version: 1
formatters:
  plain: {format: '%(asctime)s %(levelname)s %(name)s %(message)s'}
handlers:
  file: {class: logging.FileHandler, filename: LOGFILE, formatter: plain}
root: {level: WARNING, handlers: [file]}
disable_existing_loggers: false
"""


@dataclass
class Synapse:
    directory: Path
    port: int
    secret: str
    process: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from signedjson.key import generate_signing_key, write_signing_keys

        with (self.directory / "signing.key").open("w") as out:
            write_signing_keys(out, [generate_signing_key("a_test")])
        (self.directory / "log.yaml").write_text(LOG_CONFIG.replace("LOGFILE", str(self.directory / "homeserver.log")))
        (self.directory / "homeserver.yaml").write_text(_config(self.directory, self.port, self.secret))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.directory / "homeserver.yaml")],
            stdout=(self.directory / "stdout.log").open("wb"), stderr=subprocess.STDOUT, cwd=self.directory,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("Synapse stopped: " + self.log_tail())
            try:
                with urllib.request.urlopen(f"{self.url}/_matrix/client/versions", timeout=2) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Synapse did not start within {STARTUP_SECONDS} s: " + self.log_tail())

    def log_tail(self) -> str:
        text = ""
        for name in ("stdout.log", "homeserver.log"):
            path = self.directory / name
            if path.exists():
                text += path.read_text(errors="replace")[-2000:]
        return text

    def _post(self, path: str, body: dict[str, Any], token: str = "") -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - loopback
            self.url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())

    def _get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())

    def register(self, localpart: str, *, admin: bool = False) -> tuple[str, str]:
        """Register a user with the shared secret (the admin API behind
        register_new_matrix_user); returns (user ID, access token)."""
        nonce = self._get("/_synapse/admin/v1/register")["nonce"]
        password = f"pw-{localpart}-{self.secret[:8]}"
        mac_hex = hmac.new(self.secret.encode(), b"\x00".join(
            p.encode() for p in (nonce, localpart, password, "admin" if admin else "notadmin")
        ), hashlib.sha1).hexdigest()
        answer = self._post("/_synapse/admin/v1/register", {
            "nonce": nonce, "username": localpart, "password": password, "admin": admin, "mac": mac_hex,
        })
        self.tokens[answer["user_id"]] = answer["access_token"]
        return answer["user_id"], answer["access_token"]

    def join(self, token: str, room_id: str) -> None:
        self._post(f"/_matrix/client/v3/rooms/{quote(room_id)}/join", {}, token)

    def say(self, token: str, room_id: str, text: str) -> None:
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{self.url}/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.message/{time.monotonic_ns()}",
            data=json.dumps({"msgtype": "m.text", "body": text}).encode(), method="PUT",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            response.read()

    def invites(self, token: str) -> list[str]:
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{self.url}/_matrix/client/v3/sync?timeout=0", headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return list(json.loads(response.read()).get("rooms", {}).get("invite", {}))

    def messages(self, token: str, room_id: str) -> list[tuple[str, str]]:
        """(sender, text) of the room's messages, oldest first."""
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{self.url}/_matrix/client/v3/rooms/{quote(room_id)}/messages?dir=b&limit=100",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            chunk = json.loads(response.read())["chunk"]
        return [
            (e["sender"], e["content"].get("body", "")) for e in reversed(chunk) if e.get("type") == "m.room.message"
        ]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_synapse() -> Synapse:
    directory = Path(tempfile.mkdtemp(prefix="planblanc-synapse-"))
    server = Synapse(directory=directory, port=free_port(), secret=hashlib.sha256(directory.name.encode()).hexdigest())
    server.start()
    return server
