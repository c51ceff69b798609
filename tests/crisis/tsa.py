"""A local timestamping authority for the tests: OpenSSL's `openssl ts -reply` behind a
small http.server on loopback, with a CA and a TSA certificate (extended key usage
timeStamping, critical) made with `cryptography`. Its tokens are real signed RFC 3161
tokens that rfc3161-client verifies."""

from __future__ import annotations

import datetime
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

CONFIG = """
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
# Only the signer certificate in the token: rfc3161-client wants a DER-ordered SET.
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_authority(directory: Path, name: str = "Autorite d'horodatage de test") -> Path:
    """CA and TSA certificates and keys in `directory`; returns the CA's PEM file."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name(f"{name} CA")).issuer_name(_name(f"{name} CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa = (
        x509.CertificateBuilder().subject_name(_name(name)).issuer_name(ca.subject)
        .public_key(tsa_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "tsa.pem").write_bytes(tsa.public_bytes(serialization.Encoding.PEM))
    (directory / "tsa.key").write_bytes(_pem(tsa_key))
    (directory / "serial").write_text("01\n")
    (directory / "tsa.cnf").write_text(CONFIG.format(dir=directory))
    return directory / "ca.pem"


@dataclass
class Authority:
    url: str
    ca_file: Path
    replies: int = 0


@contextmanager
def running_authority() -> Iterator[Authority]:
    with tempfile.TemporaryDirectory(prefix="planblanc-tsa-") as work:
        directory = Path(work)
        authority = Authority(url="", ca_file=make_authority(directory))
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                query = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    (directory / "query.tsq").write_bytes(query)
                    done = subprocess.run(  # noqa: S603 - fixed program
                        [OPENSSL, "ts", "-reply", "-config", str(directory / "tsa.cnf"),
                         "-queryfile", str(directory / "query.tsq"), "-out", str(directory / "reply.tsr")],
                        capture_output=True, check=False,
                    )
                    reply = (directory / "reply.tsr").read_bytes() if done.returncode == 0 else b""
                    authority.replies += 1
                self.send_response(200 if reply else 500)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        authority.url = f"http://127.0.0.1:{server.server_address[1]}/tsa"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield authority
        finally:
            server.shutdown()
            server.server_close()
