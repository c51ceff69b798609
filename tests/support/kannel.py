"""A real Kannel on loopback: bearerbox, smsbox and fake SMSCs (Kannel's own `fakesmsc`).

- `running_kannel` (the `kannel` fixture): one fake SMSC takes our messages (MT) and
  prints them; another is used only to inject replies (MO) on demand. Delivery reports
  and replies reach a Django live server on loopback.
- `running_kannel_pair`: TWO fake SMSCs for outgoing messages, each limited by Kannel's
  own `throughput` setting (messages per second), as two SMS links of an operator would
  be. Each fake SMSC's output is read line by line with the time of arrival, to measure
  the rate each link really received."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
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
        _stop(self.processes)


BOXES = """
group = core
admin-port = {admin_port}
admin-password = admin-secret
admin-interface = 127.0.0.1
smsbox-port = {smsbox_port}
box-allow-ip = 127.0.0.1
log-file = "{dir}/bearerbox.log"
log-level = {log_level}
{core_extra}dlr-storage = internal
store-type = spool
store-location = "{dir}/spool"
sms-resend-retry = 0
{smscs}
group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{dir}/smsbox.log"
log-level = {log_level}
global-sender = PlanBlanc
{smsbox_extra}
group = sendsms-user
username = planblanc
password = sms-password
max-messages = 6
concatenation = true
user-allow-ip = 127.0.0.1
{services}"""

# Replies (MO) go to the live server's callback.
MO_SERVICE = """
group = sms-service
keyword = default
get-url = "{callback_url}/sms/kannel/mo/?secret={secret}&from=%p&to=%P&text=%a"
max-messages = 0
catch-all = true
"""


def _smsc(name: str, port: int, *, allowed: bool = True, throughput: float | None = None) -> str:
    """A fake SMSC; `allowed`: only messages routed to it by name go through it."""
    lines = ["", "group = smsc", "smsc = fake", f"smsc-id = {name}"]
    if allowed:
        lines.append(f"allowed-smsc-id = {name}")
    lines += [f"port = {port}", "connect-allow-ip = 127.0.0.1", "our-host = 127.0.0.1"]
    if throughput is not None:
        lines.append(f"throughput = {throughput}")
    return "\n".join(lines) + "\n"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback test server
            response.read()
        return True
    except urllib.error.HTTPError:
        return True  # it answered, even if with an error
    except OSError:
        return False


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for proc in reversed(processes):
        if proc.poll() is None:
            proc.terminate()
    for proc in reversed(processes):
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    processes.clear()


def _status(admin_port: int, keep: Callable[[str], bool]) -> str:
    """The lines of bearerbox's status page that `keep` selects (all if none does)."""
    try:
        url = f"http://127.0.0.1:{admin_port}/status.txt?password=admin-secret"
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
            text: str = response.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line for line in text.splitlines() if keep(line)]
    return "\n".join(lines) if lines else text


@contextlib.contextmanager
def _running_boxes(
    *, directory: Path, config: str, admin_port: int, sendsms_port: int, processes: list[subprocess.Popen[bytes]],
    start_smscs: Callable[[], None], smscs_online: Callable[[], bool], timeout: float,
) -> Iterator[None]:
    """bearerbox, then the fake SMSCs (`start_smscs`), then smsbox; ready once every
    fake SMSC is connected (`smscs_online`). Everything is stopped and the directory
    removed on exit."""
    path = directory / "kannel.conf"
    path.write_text(config)
    logs = (directory / "boxes.out").open("ab")
    try:
        processes.append(subprocess.Popen([BEARERBOX, str(path)], stdout=logs, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + timeout
        while not _answers(f"http://127.0.0.1:{admin_port}/status?password=admin-secret"):
            if time.monotonic() > deadline or processes[0].poll() is not None:
                raise RuntimeError(f"bearerbox did not start: {(directory / 'bearerbox.log').read_text()[-2000:]}")
            time.sleep(0.1)
        start_smscs()
        processes.append(subprocess.Popen([SMSBOX, str(path)], stdout=logs, stderr=subprocess.STDOUT))
        while not _answers(f"http://127.0.0.1:{sendsms_port}/cgi-bin/sendsms"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"smsbox did not start: {(directory / 'smsbox.log').read_text()[-2000:]}")
            time.sleep(0.1)
        # The fake SMSCs must be connected before messages are routed to them.
        while not smscs_online():
            if time.monotonic() > deadline:
                raise RuntimeError("fake SMSCs did not connect")
            time.sleep(0.1)
        yield
    finally:
        _stop(processes)
        logs.close()
        shutil.rmtree(directory, ignore_errors=True)


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
    config = BOXES.format(
        admin_port=box.admin_port, smsbox_port=free_port(), dir=directory, sendsms_port=box.sendsms_port,
        log_level=1, core_extra=f'access-log = "{directory}/access.log"\n', smsbox_extra="mo-recode = false\n",
        smscs=_smsc("mt", box.mt_port, allowed=False) + _smsc("mo", box.mo_port),
        services=MO_SERVICE.format(callback_url=callback_url, secret=SECRET),
    )

    def start_smscs() -> None:
        box.mt_output = directory / "fakesmsc-mt.out"
        mt_out = box.mt_output.open("ab")
        # -m 0: generate no message of its own; it prints what it receives.
        box.processes.append(subprocess.Popen(
            [FAKESMSC, "-H", "127.0.0.1", "-r", str(box.mt_port), "-m", "0", "x y text unused"],
            stdout=mt_out, stderr=subprocess.STDOUT,
        ))

    def online() -> bool:
        return "online" in _status(box.admin_port, lambda line: "mt" in line and "fake" in line.lower())

    with _running_boxes(
        directory=directory, config=config, admin_port=box.admin_port, sendsms_port=box.sendsms_port,
        processes=box.processes, start_smscs=start_smscs, smscs_online=online, timeout=20,
    ):
        yield box


@pytest.fixture(name="kannel")
def kannel_fixture(live_server: Any) -> Iterator[Kannel]:
    if not Path(BEARERBOX).exists():
        # A declared test dependency (.ci/run installs it): missing, the run fails.
        pytest.fail("Kannel is not installed (apt-get install kannel kannel-extras)")
    with running_kannel(live_server.url) as box:
        yield box


# Two outgoing links -----------------------------------------------------------------------

@dataclass
class Link:
    name: str
    port: int
    throughput: float
    arrivals: list[float] = field(default_factory=list)

    def max_in_window(self, seconds: float = 1.0) -> int:
        """Most messages received within any window of `seconds`."""
        times = sorted(self.arrivals)
        best, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= seconds:
                start += 1
            best = max(best, end - start + 1)
        return best


@dataclass
class KannelPair:
    directory: Path
    sendsms_port: int
    admin_port: int
    links: list[Link]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def provider(self, link: Link, *, rate: float | None = None, callback_url: str = "http://127.0.0.1:9") -> dict[str, Any]:
        return {
            "name": f"kannel-{link.name}", "kind": "kannel",
            "url": f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms", "username": "planblanc",
            "password": "sms-password", "from": "PlanBlanc", "callback_url": callback_url, "secret": SECRET,
            "smsc": link.name, "rate": rate if rate is not None else link.throughput,
        }

    def received(self) -> int:
        return sum(len(link.arrivals) for link in self.links)

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.received() < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received() >= count


def _read(proc: subprocess.Popen[bytes], link: Link, log: Path) -> None:
    assert proc.stdout is not None
    with log.open("ab") as out:
        for line in proc.stdout:
            if b"Got message" in line:
                link.arrivals.append(time.monotonic())
            out.write(line)


@contextlib.contextmanager
def running_kannel_pair(throughputs: tuple[float, float] = (10, 10)) -> Iterator[KannelPair]:
    directory = Path(tempfile.mkdtemp(prefix="kannel-pair-"))
    (directory / "spool").mkdir()
    links = [Link(name=f"link{i + 1}", port=free_port(), throughput=t) for i, t in enumerate(throughputs)]
    pair = KannelPair(directory=directory, sendsms_port=free_port(), admin_port=free_port(), links=links)
    config = BOXES.format(
        admin_port=pair.admin_port, smsbox_port=free_port(), dir=directory, sendsms_port=pair.sendsms_port,
        log_level=2, core_extra="", smsbox_extra="", services="",
        smscs="".join(_smsc(link.name, link.port, throughput=link.throughput) for link in links),
    )

    def start_smscs() -> None:
        for link in links:
            proc = subprocess.Popen(
                [FAKESMSC, "-H", "127.0.0.1", "-r", str(link.port), "-m", "0", "x y text unused"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )
            pair.processes.append(proc)
            threading.Thread(target=_read, args=(proc, link, directory / f"{link.name}.out"), daemon=True).start()

    def online() -> bool:
        return _status(pair.admin_port, lambda line: "link" in line).count("online") >= len(links)

    with _running_boxes(
        directory=directory, config=config, admin_port=pair.admin_port, sendsms_port=pair.sendsms_port,
        processes=pair.processes, start_smscs=start_smscs, smscs_online=online, timeout=30,
    ):
        yield pair
