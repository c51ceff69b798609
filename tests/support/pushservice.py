"""A local Web Push service on loopback, for the tests: it holds the subscriber's private
keys like a browser does, checks each POST's VAPID JWT (RFC 8292: ES256 signature with
the `k=` key, audience = its own origin, expiry, contact), DECRYPTS the aes128gcm
payload (RFC 8291, with http_ece), and answers 201 — or the status a test asks for
(410 for a device that is gone)."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Device:
    """One browser subscription: its endpoint and its RFC 8291 keys."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    status: int = 201
    received: list[dict[str, Any]] = field(default_factory=list)

    @property
    def p256dh(self) -> str:
        return b64url(self.private_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))

    def subscription(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)}}


def vapid_check(authorization: str, origin: str) -> dict[str, Any]:
    """Verify `vapid t=<jwt>, k=<key>`; returns the claims or raises ValueError."""
    scheme, _space, params = authorization.partition(" ")
    if scheme.lower() != "vapid":
        raise ValueError(f"not a VAPID authorization: {scheme}")
    values = dict(part.strip().split("=", 1) for part in params.split(","))
    header_b64, claims_b64, signature_b64 = values["t"].split(".")
    header = json.loads(unb64url(header_b64))
    if header.get("alg") != "ES256":
        raise ValueError("VAPID JWT must be ES256")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(values["k"]))
    raw = unb64url(signature_b64)
    signature = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public.verify(signature, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise ValueError("bad VAPID signature") from exc
    claims = json.loads(unb64url(claims_b64))
    if claims.get("aud") != origin:
        raise ValueError(f"audience {claims.get('aud')} is not {origin}")
    if not (time.time() < claims.get("exp", 0) <= time.time() + 24 * 3600):
        raise ValueError("expired or too long VAPID claim")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https://")):
        raise ValueError("no VAPID contact")
    claims["k"] = values["k"]
    return claims


class PushService:
    def __init__(self) -> None:
        self.devices: dict[str, Device] = {}
        self.errors: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                device = outer.devices.get(self.path)
                if device is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                if device.status != 201:
                    self.send_response(device.status)
                    self.end_headers()
                    return
                try:
                    claims = vapid_check(self.headers.get("Authorization", ""), outer.origin)
                    if self.headers.get("Content-Encoding") != "aes128gcm":
                        raise ValueError("payload must be aes128gcm")
                    if not self.headers.get("TTL"):
                        raise ValueError("TTL header missing")
                    plain = http_ece.decrypt(
                        body, private_key=device.private_key, auth_secret=device.auth, version="aes128gcm",
                    )
                    device.received.append({
                        "payload": json.loads(plain), "claims": claims, "urgency": self.headers.get("Urgency"),
                    })
                except Exception as exc:  # noqa: BLE001 - reported to the test
                    outer.errors.append(f"{type(exc).__name__}: {exc}")
                    self.send_response(400)
                    self.end_headers()
                    return
                self.send_response(201)
                self.send_header("Location", f"{outer.origin}/message/{len(device.received)}")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"

    def device(self, status: int = 201) -> Device:
        path = f"/push/{b64url(os.urandom(12))}"
        device = Device(endpoint=self.origin + path, private_key=ec.generate_private_key(ec.SECP256R1()),
                        auth=os.urandom(16), status=status)
        self.devices[path] = device
        return device

    def __enter__(self) -> PushService:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
