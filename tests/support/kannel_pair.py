"""A real Kannel with TWO fake SMSCs for outgoing messages, each limited by Kannel's own
`throughput` setting (messages per second), as two SMS links of an operator would be.
Each fake SMSC's output is read line by line with the time of arrival, to measure the
rate each link really received."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.kannel import BEARERBOX, FAKESMSC, SECRET, SMSBOX, _answers
from tests.support.smtp import free_port

CONFIG = """
group = core
admin-port = {admin_port}
admin-password = admin-secret
admin-interface = 127.0.0.1
smsbox-port = {smsbox_port}
box-allow-ip = 127.0.0.1
log-file = "{dir}/bearerbox.log"
log-level = 2
dlr-storage = internal
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
log-level = 2
global-sender = PlanBlanc

group = sendsms-user
username = planblanc
password = sms-password
max-messages = 6
concatenation = true
user-allow-ip = 127.0.0.1
"""

SMSC = """
group = smsc
smsc = fake
smsc-id = {name}
allowed-smsc-id = {name}
port = {port}
connect-allow-ip = 127.0.0.1
our-host = 127.0.0.1
throughput = {throughput}
"""


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
    config = directory / "kannel.conf"
    config.write_text(CONFIG.format(
        admin_port=pair.admin_port, smsbox_port=free_port(), dir=directory, sendsms_port=pair.sendsms_port,
        smscs="".join(SMSC.format(name=link.name, port=link.port, throughput=link.throughput) for link in links),
    ))
    logs = (directory / "boxes.out").open("ab")
    try:
        pair.processes.append(subprocess.Popen([BEARERBOX, str(config)], stdout=logs, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 30
        while not _answers(f"http://127.0.0.1:{pair.admin_port}/status?password=admin-secret"):
            if time.monotonic() > deadline or pair.processes[0].poll() is not None:
                raise RuntimeError(f"bearerbox did not start: {(directory / 'bearerbox.log').read_text()[-2000:]}")
            time.sleep(0.1)
        for link in links:
            proc = subprocess.Popen(
                [FAKESMSC, "-H", "127.0.0.1", "-r", str(link.port), "-m", "0", "x y text unused"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )
            pair.processes.append(proc)
            threading.Thread(target=_read, args=(proc, link, directory / f"{link.name}.out"), daemon=True).start()
        pair.processes.append(subprocess.Popen([SMSBOX, str(config)], stdout=logs, stderr=subprocess.STDOUT))
        while not _answers(f"http://127.0.0.1:{pair.sendsms_port}/cgi-bin/sendsms"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"smsbox did not start: {(directory / 'smsbox.log').read_text()[-2000:]}")
            time.sleep(0.1)
        while _status(pair).count("online") < len(links):
            if time.monotonic() > deadline:
                raise RuntimeError(f"fake SMSCs did not connect: {_status(pair)[-2000:]}")
            time.sleep(0.1)
        yield pair
    finally:
        for proc in reversed(pair.processes):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(pair.processes):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        logs.close()
        shutil.rmtree(directory, ignore_errors=True)


def _status(pair: KannelPair) -> str:
    import urllib.request

    try:
        url = f"http://127.0.0.1:{pair.admin_port}/status.txt?password=admin-secret"
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
            text: str = response.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(line for line in text.splitlines() if "link" in line)
