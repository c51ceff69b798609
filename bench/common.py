"""What the benchmark scripts in bench/ share: their set-up, the throw-away PostgreSQL
database, the worker processes, the statistics, the test client and the browser.

Import it before Django and the package. `python bench/<name>.py` puts bench/ on
sys.path (the script's own folder), so `from common import …` finds this file; importing
it puts the repository's `src/` (the package) and root (`tests.support`,
`tests.factories`) on sys.path. Django and the package are imported inside the helpers
that need them, after the bench has set its environment.

Percentiles are nearest-rank: `percentile(values, p)` is the ⌈p/100 × n⌉-th smallest
of the n values, the smallest measured value with at least p % of the values at or
below it. It is always a value that was measured, never one drawn between two; with
fewer than 100 values p99 is the maximum (p95 with fewer than 20). Medians are
`statistics.median` (the mean of the two middle values when n is even).

Helpers, by kind:
- set-up: `ROOT`, `bench_environment`, `django_setup`, `describe_database`, `machine_load`;
- PostgreSQL: `throwaway_database` (created at the start, dropped at the end; named
  by the bench, or by BENCH_DATABASE when set), `admin_sql`, `database_url`;
- processes: `start_alert_workers`, `run_exercise_workers`, `stop_processes`;
- statistics: `percentile`, `QueryCounter`, `count_queries`, `timings`, `measure_action`;
- pages: `verified_client` (logged in, second factor passed), `launch_chromium`,
  `throttle` (CDP network emulation);
- data: `bench_establishment`, `Counting` (an SMTP handler), `delivery_states`,
  `campaign_wait_done`, `injects_add`, `participants_add`, `inject_lags`.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "src"):  # src/ ends up first, as in an installed checkout
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


# Set-up ---------------------------------------------------------------------------


def bench_environment(name: str, *, fresh: bool = False, **settings: str) -> str:
    """Set the environment a bench runs in and return its data folder.

    PLANBLANC_DATA_DIR (where the embedded SQLite database lives) stays as given by the
    caller's environment, so that a bench can reuse data it built before; otherwise, or
    with `fresh`, it is a new temporary folder `pb-bench-<name>-…`. The log is kept to
    warnings (the worker processes inherit the environment, and a campaign logs a line
    per delivery). `settings` are set last, as given (PLANBLANC_CHANNELS, …)."""
    if fresh or not os.environ.get("PLANBLANC_DATA_DIR"):
        os.environ["PLANBLANC_DATA_DIR"] = tempfile.mkdtemp(prefix=f"pb-bench-{name}-")
    Path(os.environ["PLANBLANC_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planblanc.settings")
    os.environ["PLANBLANC_LOG_LEVEL"] = "WARNING"
    os.environ.update(settings)
    return os.environ["PLANBLANC_DATA_DIR"]


def django_setup(*, migrate: bool = True) -> None:
    """Django set up from the environment, and the database migrated."""
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def describe_database() -> str:
    """The database in use, as printed with the figures: `sqlite (/tmp/…)`, `postgresql (pb_…)`."""
    from django.db import connection

    return f"{connection.vendor} ({connection.settings_dict['NAME']})"


def machine_load() -> str:
    """The machine's load average over 1, 5 and 15 minutes (as `uptime` shows it) and its
    number of CPUs: wall-clock figures grow with the load, so it goes with them."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} (1, 5, 15 min) on {os.cpu_count()} CPUs"


# PostgreSQL -----------------------------------------------------------------------


def database_url(url: str, name: str) -> str:
    """`url` (postgres://user:password@host:port/db?options) naming database `name` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def admin_sql(url: str, sql: str) -> None:
    """Run `sql` outside any transaction in the maintenance database `postgres` of the
    server of `url` (CREATE and DROP DATABASE cannot run in the database they name, nor
    in a transaction)."""
    import psycopg

    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql)


@contextlib.contextmanager
def throwaway_database(name: str, *, keep: bool = False) -> Iterator[str]:
    """A fresh database `name` on the PostgreSQL server of DATABASE_URL, which becomes
    DATABASE_URL for the bench and the processes it starts; dropped on the way out
    (unless `keep`), after Django's connections are closed. Any database of that name
    left by an interrupted run is dropped first. Exits with a message when
    DATABASE_URL does not name a PostgreSQL server.

    Each bench has its own name (`pb_<bench>_bench`): two benches on the same server at
    the same time must not drop each other's database. BENCH_DATABASE, when set, names
    the database instead, for two runs of the same bench on one server."""
    name = os.environ.get("BENCH_DATABASE") or name
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith("postgres"):
        sys.exit(f"DATABASE_URL=postgres://… is required: the bench creates its own database {name} on that "
                 "server and drops it at the end.")
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    admin_sql(server, drop)
    admin_sql(server, f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = database_url(server, name)
    try:
        yield os.environ["DATABASE_URL"]
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            with contextlib.suppress(Exception):  # Django may not be set up yet
                connections.close_all()
        if keep:
            print(f"database {name} kept on the server of DATABASE_URL")
        else:
            admin_sql(server, drop)


# Processes ------------------------------------------------------------------------


def start_alert_workers(count: int = 1, *, interval: float = 0.1, batch: int | None = None,
                        settle: float = 3.0) -> list[subprocess.Popen[bytes]]:
    """`count` `planblanc alert_worker` processes, as deployed, in the bench's
    environment; then `settle` seconds for them to start and go idle, so that what is
    timed next does not include Python and Django starting up."""
    command = [sys.executable, "-m", "planblanc", "alert_worker", "--interval", str(interval), "-v", "0"]
    if batch is not None:
        command += ["--batch", str(batch)]
    workers = [subprocess.Popen(command, env={**os.environ}, cwd=ROOT) for _ in range(count)]
    time.sleep(settle)
    if any(worker.poll() is not None for worker in workers):  # rather than wait for messages that never come
        stop_processes(workers)
        sys.exit("an alert_worker process stopped while starting (its error is above)")
    return workers


def stop_processes(processes: Iterable[subprocess.Popen[Any]], timeout: float = 15) -> None:
    """SIGTERM to every process (the workers finish the batch in hand), then wait for
    each; one still running after `timeout` seconds is killed."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# The ordinary worker step of the exercises (`runs_process`, the body of the
# `exercise_runs_process` task) in a loop. argv: poll interval, seconds at most, runs to
# wait for. It prints "ready" once set up, and stops once that many runs are running
# (they are started after the workers) and none of them has an inject pending.
EXERCISE_WORKER = """
import sys, time, django
django.setup()
from django.db import close_old_connections
from planblanc.exercises.models import ExerciseRun, InjectRun, InjectState, RunStatus
from planblanc.exercises.run import runs_process
runs_process()
print("ready", flush=True)
interval, deadline, expected = float(sys.argv[1]), time.time() + float(sys.argv[2]), int(sys.argv[3])
seen = False
while time.time() < deadline:
    runs_process()
    close_old_connections()
    left = InjectRun.objects.filter(state=InjectState.PENDING, run__status=RunStatus.RUNNING).exists()
    seen = seen or ExerciseRun.objects.filter(status=RunStatus.RUNNING).count() >= expected
    if seen and not left:
        break
    time.sleep(interval)
"""


def run_exercise_workers(count: int, *, interval: float, seconds: float, running: int,
                         start: Callable[[], None]) -> None:
    """Start `count` exercise worker processes, call `start` (which starts the runs)
    once every worker is set up and polling, and wait for the workers to finish: when
    `running` runs are running with nothing pending, or after `seconds`. Workers still
    there 100 s later are killed."""
    workers = [
        subprocess.Popen([sys.executable, "-c", EXERCISE_WORKER, str(interval), str(seconds), str(running)],
                         env={**os.environ}, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            worker.stdout.readline()
        start()
        for worker in workers:
            worker.wait(timeout=seconds + 100)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()


# Statistics -----------------------------------------------------------------------


def percentile(values: Iterable[float], p: float) -> float:
    """The nearest-rank p-th percentile: the ⌈p/100 × n⌉-th smallest value (see the
    module's docstring); NaN when there are no values."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is not between 0 and 100")
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = math.ceil(Fraction(str(p)) * len(ordered) / 100)  # exact: no 99.9 × n rounding up a rank
    return ordered[max(rank, 1) - 1]


class QueryCounter(list[str]):
    """A database execute wrapper that keeps the SQL of every query run under it."""

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        self.append(sql)
        return execute(sql, params, many, context)


def count_queries(action: Callable[[], Any]) -> int:
    """The number of SQL queries one call of `action` runs (on the default database)."""
    from django.db import connection

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        action()
    return len(counter)


def timings(action: Callable[[], Any], repeat: int) -> list[float]:
    """Wall-clock seconds of `repeat` calls of `action`, one after the other."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def measure_action(label: str, action: Callable[[], Any], repeat: int) -> tuple[float, int]:
    """Call `action` once to warm up, once to count its queries, then `repeat` times
    timed; print and return the median seconds and the number of queries."""
    action()
    queries = count_queries(action)
    times = timings(action, repeat)
    median = statistics.median(times)
    print(f"  {label}: median {median * 1000:.0f} ms (min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}), "
          f"{queries} queries", flush=True)
    return median, queries


# Pages ----------------------------------------------------------------------------


def verified_client(user: Any, *, language: str | None = None) -> Any:
    """A Django test client logged in as `user` with the second factor passed (a
    confirmed TOTP device `bench` of the user, created if need be), as staff with
    accounts that need two factors use the site. `language` sets the language cookie
    (the pages are French otherwise)."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="bench", defaults={"confirmed": True})
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    if language:
        client.cookies["planblanc_language"] = language
    return client


def launch_chromium(playwright: Any) -> Any:
    """Headless Chromium (PLANBLANC_CHROMIUM, else /usr/bin/chromium) with the browser
    tests' flags: loopback only, nothing in the background."""
    from tests.browser.support import CHROMIUM_ARGS

    return playwright.chromium.launch(executable_path=os.environ.get("PLANBLANC_CHROMIUM", "/usr/bin/chromium"),
                                      args=CHROMIUM_ARGS, headless=True)


def throttle(context: Any, page: Any, *, kbit_per_s: float, rtt_ms: float, cache: bool = True) -> Any:
    """Slow the page's network down to `kbit_per_s` each way with `rtt_ms` round trips
    (Chrome DevTools Protocol emulation; 400 kbit/s and 400 ms is about Chrome's "Slow
    3G"); `cache=False` disables the browser's cache. Returns the CDP session."""
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    if not cache:
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    rate = kbit_per_s * 1000 / 8  # bytes per second
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": rtt_ms, "downloadThroughput": rate, "uploadThroughput": rate,
    })
    return cdp


# Data -----------------------------------------------------------------------------


def bench_establishment(*, finess: str, name: str) -> Any:
    """An establishment of the bench's region (`BEN`), created if need be; `finess` is
    the first eight digits of its FINESS number (the check digit is added)."""
    from planblanc.directory.models import Establishment, Region
    from planblanc.directory.validators import finess_with_check_digit

    region, _ = Region.objects.get_or_create(code="BEN", defaults={"name": "Région de banc d'essai"})
    establishment, _ = Establishment.objects.get_or_create(
        finess=finess_with_check_digit(finess), defaults={"name": name, "category": "ch", "region": region}
    )
    return establishment


class Counting:
    """An SMTP handler (for tests.support.smtp.SmtpServer) that only counts messages per
    recipient and notes when the target count is reached. Lighter than the tests'
    Recorder, which parses every message: the sink runs in the bench's process and
    shares the CPUs with the workers it measures."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rcpts: Counter[str] = Counter()
        self.message_ids: dict[str, set[str]] = {}
        self.count = 0
        self.target = 0
        self.done = threading.Event()
        self.last_at = 0.0

    def reset(self, target: int) -> None:
        with self.lock:
            self.rcpts.clear()
            self.message_ids.clear()
            self.count = 0
            self.target = target
            self.done.clear()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message_id = ""
        for line in envelope.content.split(b"\r\n", 40):
            if line.lower().startswith(b"message-id:"):
                message_id = line.split(b":", 1)[1].strip().decode()
                break
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.rcpts[rcpt] += 1
                self.message_ids.setdefault(rcpt, set()).add(message_id)
            self.count += len(envelope.rcpt_tos)
            if self.count >= self.target:
                self.last_at = time.perf_counter()
                self.done.set()
        return "250 OK"

    def not_once(self) -> int:
        """Recipients who got other than exactly one message."""
        with self.lock:
            return sum(1 for count in self.rcpts.values() if count != 1)


def delivery_states(campaign: Any, *fields: str) -> dict[Any, int]:
    """How many of the campaign's deliveries are in each state (or each combination of
    `fields`, `status` by default)."""
    from planblanc.alerting.models import Delivery

    rows = Delivery.objects.filter(campaign=campaign)
    if len(fields) > 1:
        return dict(Counter(rows.values_list(*fields)))
    return dict(Counter(rows.values_list(fields[0] if fields else "status", flat=True)))


def campaign_wait_done(campaign: Any, timeout: float) -> str:
    """Wait (at most `timeout` seconds) for the workers to mark the campaign done, once
    its last message was accepted; return its status."""
    from planblanc.alerting.models import Campaign

    deadline = time.monotonic() + timeout
    while (status := Campaign.objects.get(pk=campaign.pk).status) != "done" and time.monotonic() < deadline:
        time.sleep(0.05)
    return str(status)


def injects_add(*, actor: Any, exercise: Any, count: int, every: Any, channels: Sequence[str],
                subject: str = "Inject {number}", content: str = "Texte de l'inject.") -> None:
    """`count` injects numbered from 1, `every` (a timedelta of the exercise's clock)
    apart from the start, through the exercises' services; inject n goes by
    `channels[n % len(channels)]`, its subject is `subject` with {number} filled in."""
    from planblanc.exercises import services

    for number in range(1, count + 1):
        services.inject_create(actor=actor, exercise=exercise, data={
            "number": number, "subject": subject.replace("{number}", str(number)), "content": content,
            "offset": every * number, "channel": channels[number % len(channels)]})


def participants_add(*, actor: Any, exercise: Any, roles: Sequence[str] = ("animator", "player", "player", "player")
                     ) -> None:
    """A new person of the exercise's establishment for each of `roles`."""
    from tests.factories import MembershipFactory, PersonFactory

    from planblanc.exercises import services

    for role in roles:
        person = MembershipFactory(establishment=exercise.establishment, person=PersonFactory()).person
        services.participant_add(actor=actor, exercise=exercise, person=person, role=role)


def inject_lags(runs: Any) -> list[float]:
    """Seconds between each fired inject's due time (real time, from the run's
    simulated clock) and its firing, for a queryset of InjectRun rows."""
    return [(fired - due).total_seconds() for fired, due in runs.values_list("fired_at", "due_real_at")
            if fired and due]
