"""A real Kannel on loopback: bearerbox, smsbox and two fake SMSCs (Kannel's own
`fakesmsc`). One fake SMSC takes our messages (MT) and prints them; the other is used
only to inject replies (MO) on demand. Delivery reports and replies reach a Django live
server on loopback."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, unquote_to_bytes

import pytest

from tests.support.smtp import free_port

BEARERBOX = shutil.which("bearerbox") or "/usr/sbin/bearerbox"
SMSBOX = shutil.which("smsbox") or "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
SECRET = "mo-secret-for-tests"

# Kannel is a declared test dependency (.ci/run installs it): when it is missing the
# tests that need it fail, saying what to install, instead of being skipped.
needs_kannel = pytest.mark.usefixtures("kannel_installed")


@pytest.fixture
def kannel_installed() -> None:
    missing = [path for path in (BEARERBOX, SMSBOX, FAKESMSC) if not Path(path).exists()]
    if missing:
        pytest.fail(f"Kannel is not installed (apt-get install kannel kannel-extras): {', '.join(missing)}")


@dataclass
class Kannel:
    directory: Path
    sendsms_port: int
    admin_port: int
    mt_port: int
    mo_port: int
    callback_url: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    mt_output: Path | None = None

    def provider(self, name: str = "kannel", **options: Any) -> dict[str, Any]:
        return {
            "name": name, "kind": "kannel", "url": f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms",
            "username": "planblanc", "password": "sms-password", "from": "PlanBlanc",
            "callback_url": self.callback_url, "secret": SECRET, "smsc": "mt", **options,
        }

    def received(self) -> list[str]:
        """Lines fakesmsc printed for each message it got: 'from to text|data body'."""
        text = self.mt_output.read_text(errors="replace") if self.mt_output and self.mt_output.exists() else ""
        return [
            line.split(": <", 1)[-1].rstrip().removesuffix(">") for line in text.splitlines() if "Got message" in line
        ]

    def messages(self) -> dict[str, list[str]]:
        """Per phone number, the texts received, concatenated parts put back together
        (in the order of their UDH sequence numbers)."""
        texts: dict[str, list[str]] = {}
        parts: dict[tuple[str, int], dict[int, str]] = {}
        for line in self.received():
            words = line.split(" ")
            number = words[1]
            if words[2] == "udh":
                udh = unquote_to_bytes(words[3].replace("+", " "))
                body = unquote_plus(words[5]) if words[4] == "data" else " ".join(words[5:])
                reference, total, seq = udh[3], udh[4], udh[5]
                collected = parts.setdefault((number, reference), {})
                collected[seq] = body
                if len(collected) == total:
                    texts.setdefault(number, []).append("".join(collected[i] for i in sorted(collected)))
            else:
                body = " ".join(words[3:])
                texts.setdefault(number, []).append(unquote_plus(body) if words[2] == "data" else body)
        return texts

    def wait_for(self, count: int, timeout: float = 15) -> dict[str, list[str]]:
        """Wait until `count` whole messages have arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(len(v) for v in self.messages().values()) >= count:
                break
            time.sleep(0.1)
        return self.messages()

    def inject_mo(self, sender: str, receiver: str, text: str) -> None:
        """A phone sends an SMS: a second fakesmsc sends it once through the MO SMSC."""
        message = f"{sender} {receiver} text {text}"
        log = self.directory / "fakesmsc-mo.out"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [FAKESMSC, "-H", "127.0.0.1", "-r", str(self.mo_port), "-m", "1", "-i", "0.1", message],
                stdout=out, stderr=subprocess.STDOUT,
            )
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=5)

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.processes):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.processes.clear()


CONFIG = """
group = core
admin-port = {admin_port}
admin-password = admin-secret
admin-interface = 127.0.0.1
smsbox-port = {smsbox_port}
box-allow-ip = 127.0.0.1
log-file = "{dir}/bearerbox.log"
log-level = 1
access-log = "{dir}/access.log"
dlr-storage = internal
store-type = spool
store-location = "{dir}/spool"
sms-resend-retry = 0

group = smsc
smsc = fake
smsc-id = mt
port = {mt_port}
connect-allow-ip = 127.0.0.1
our-host = 127.0.0.1

group = smsc
smsc = fake
smsc-id = mo
allowed-smsc-id = mo
port = {mo_port}
connect-allow-ip = 127.0.0.1
our-host = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{dir}/smsbox.log"
log-level = 1
global-sender = PlanBlanc
mo-recode = false

group = sendsms-user
username = planblanc
password = sms-password
max-messages = 6
concatenation = true
user-allow-ip = 127.0.0.1

group = sms-service
keyword = default
get-url = "{callback_url}/sms/kannel/mo/?secret={secret}&from=%p&to=%P&text=%a"
max-messages = 0
catch-all = true
"""


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback test server
            response.read()
        return True
    except urllib.error.HTTPError:
        return True  # it answered, even if with an error
    except OSError:
        return False


@contextlib.contextmanager
def running_kannel(callback_url: str) -> Iterator[Kannel]:
    """bearerbox, the MT fakesmsc and smsbox, started on free loopback ports, and
    stopped (their files removed) on exit."""
    directory = Path(tempfile.mkdtemp(prefix="kannel-"))
    (directory / "spool").mkdir()
    box = Kannel(
        directory=directory, sendsms_port=free_port(), admin_port=free_port(), mt_port=free_port(),
        mo_port=free_port(), callback_url=callback_url,
    )
    config = directory / "kannel.conf"
    config.write_text(CONFIG.format(
        admin_port=box.admin_port, smsbox_port=free_port(), dir=directory, mt_port=box.mt_port,
        mo_port=box.mo_port, sendsms_port=box.sendsms_port, callback_url=callback_url, secret=SECRET,
    ))
    logs = (directory / "bearerbox.out").open("ab")
    try:
        box.processes.append(subprocess.Popen([BEARERBOX, str(config)], stdout=logs, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 20
        while not _answers(f"http://127.0.0.1:{box.admin_port}/status?password=admin-secret"):
            if time.monotonic() > deadline or box.processes[0].poll() is not None:
                raise RuntimeError(f"bearerbox did not start: {(directory / 'bearerbox.log').read_text()[-2000:]}")
            time.sleep(0.1)
        box.mt_output = directory / "fakesmsc-mt.out"
        mt_out = box.mt_output.open("ab")
        # -m 0: generate no message of its own; it prints what it receives.
        box.processes.append(subprocess.Popen(
            [FAKESMSC, "-H", "127.0.0.1", "-r", str(box.mt_port), "-m", "0", "x y text unused"],
            stdout=mt_out, stderr=subprocess.STDOUT,
        ))
        box.processes.append(subprocess.Popen([SMSBOX, str(config)], stdout=logs, stderr=subprocess.STDOUT))
        while not _answers(f"http://127.0.0.1:{box.sendsms_port}/cgi-bin/sendsms"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"smsbox did not start: {(directory / 'smsbox.log').read_text()[-2000:]}")
            time.sleep(0.1)
        # The MT fake SMSC must be connected before messages are routed to it.
        while "online" not in _status(box):
            if time.monotonic() > deadline:
                raise RuntimeError(f"fakesmsc did not connect: {_status(box)[-2000:]}")
            time.sleep(0.1)
        yield box
    finally:
        box.stop()
        logs.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(name="kannel")
def kannel_fixture(live_server: Any) -> Iterator[Kannel]:
    if not Path(BEARERBOX).exists():
        # A declared test dependency (.ci/run installs it): missing, the run fails.
        pytest.fail("Kannel is not installed (apt-get install kannel kannel-extras)")
    with running_kannel(live_server.url) as box:
        yield box


def _status(box: Kannel) -> str:
    try:
        url = f"http://127.0.0.1:{box.admin_port}/status.txt?password=admin-secret"
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
            text: str = response.read().decode("utf-8", "replace")
    except OSError:
        return ""
    mt_line = [line for line in text.splitlines() if "mt" in line and "fake" in line.lower()]
    return "\n".join(mt_line) if mt_line else text
