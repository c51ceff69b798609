"""The platform under a crisis-day load on PostgreSQL, as deployed: `planblanc serve`
(gunicorn, 2 worker processes) and 2 `planblanc worker` processes, for a bounded time.

The load, all at once:
- 30 members of the crisis cell with the console open: each polls the logbook every 1 s
  as the page does (`/crise/N/live/?section=logbook&v=<stamp>`);
- 5 members writing logbook entries (one every 2 s each) through the page's form;
- a 10,000-recipient email campaign going out to a local SMTP sink (aiosmtpd);
- an exercise of 20 injects running at ×10 in another establishment.

Prints p50/p99/max per request kind, the errors (any answer other than 200/204/302, or
no answer), the lag for a member to see a new entry (from the writer's POST returning to
the first poll of each member that shows it: the 1 s polling period of the page is the physical
floor, p50 ~0.5 s), the campaign's send rate and the exercise's inject lag.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/load.py --seconds 300

The throwaway database `pb_load_bench` (on the server of DATABASE_URL) is created at the
start and dropped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

from common import (
    ROOT,
    bench_environment,
    django_setup,
    inject_lags,
    injects_add,
    machine_load,
    participants_add,
    percentile,
    stop_processes,
    throwaway_database,
)

DB_NAME = "pb_load_bench"
POLLERS, WRITERS, RECIPIENTS, POLL_SECONDS, WRITE_SECONDS = 30, 5, 10_000, 1.0, 2.0


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.posted: dict[str, float] = {}
        self.lags: list[float] = []
        self.seen: set[tuple[int, str]] = set()

    def record(self, kind: str, seconds: float, status: int | None) -> None:
        with self.lock:
            self.times[kind].append(seconds)
            if status not in (200, 204, 302, 304):
                self.errors[f"{kind} {status}"] += 1


class Client:
    def __init__(self, port: int, session: str) -> None:
        self.port, self.cookies = port, {"planblanc_session": session}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
                ) -> tuple[int | None, str]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        all_headers = {"Cookie": cookie, **(headers or {})}
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=all_headers)
                response = self.conn.getresponse()
                text = response.read().decode("utf-8", "replace")
                for header, value in response.getheaders():
                    if header.lower() == "set-cookie":
                        name, _, rest = value.partition("=")
                        self.cookies[name] = rest.split(";", 1)[0]
                return response.status, text
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    return None, ""
        return None, ""


def poller(index: int, client: Client, crisis_id: int, stats: Stats, stop: threading.Event) -> None:
    stamp = 0
    marker = re.compile(r"load-w\d+-\d+")
    time.sleep(index * POLL_SECONDS / POLLERS)  # spread like real members opening the page
    while not stop.is_set():
        started = time.perf_counter()
        status, body = client.request("GET", f"/crise/{crisis_id}/live/?section=logbook&v={stamp}&a=1",
                                      headers={"HX-Request": "true"})
        elapsed = time.perf_counter() - started
        now = time.monotonic()
        stats.record("poll, nothing new (204)" if status == 204 else "poll, new entries (200)", elapsed, status)
        if status == 200:
            found = re.search(r"[?&;]v=(\d+)", body)
            stamp = int(found.group(1)) if found else stamp
            with stats.lock:
                for text in set(marker.findall(body)):
                    if (index, text) not in stats.seen and text in stats.posted:
                        stats.seen.add((index, text))
                        stats.lags.append(now - stats.posted[text])
        stop.wait(max(0.0, POLL_SECONDS - elapsed))


def writer(index: int, client: Client, crisis_id: int, stats: Stats, stop: threading.Event) -> None:
    status, page = client.request("GET", f"/crise/{crisis_id}/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if status != 200 or token is None:
        stats.record("write entry (POST)", 0.0, status)
        return
    count = 0
    time.sleep(index * WRITE_SECONDS / WRITERS)
    while not stop.is_set():
        text = f"load-w{index}-{count}"
        body = urlencode({"csrfmiddlewaretoken": token.group(1), "kind": "event", "text": text})
        started = time.perf_counter()
        status, _ = client.request("POST", f"/crise/{crisis_id}/journal/", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true",
        })
        elapsed = time.perf_counter() - started
        with stats.lock:
            stats.posted[text] = time.monotonic()
        stats.record("write entry (POST)", elapsed, status)
        count += 1
        stop.wait(max(0.0, WRITE_SECONDS - elapsed))


def setup() -> dict[str, object]:
    """The platform's data, written through the services; returns what the load needs."""
    import datetime

    django_setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from tests.factories import (
        EstablishmentFactory,
        MembershipFactory,
        PersonFactory,
        RegionFactory,
        RoleAssignmentFactory,
        UserFactory,
    )

    from planblanc.alerting.services import RecipientInput, campaign_create
    from planblanc.crisis.services import crisis_declare
    from planblanc.directory.models import Function
    from planblanc.exercises import run as run_services
    from planblanc.exercises import services as exercise_services
    from planblanc.tenancy import Role

    region = RegionFactory(code="RL", name="Région charge")
    chu = EstablishmentFactory(name="CHU charge", region=region)
    director = UserFactory(username="load-director")
    RoleAssignmentFactory(user=director, role=Role.ESTABLISHMENT_ADMIN, establishment=chu)
    MembershipFactory(person=PersonFactory(user=director), establishment=chu, function=Function.DIRECTOR)
    crisis = crisis_declare(actor=director, establishment=chu, kind="ransomware", severity="major",
                            first_facts="Rançongiciel : bench de charge.")
    sessions = []
    for index in range(POLLERS + WRITERS):
        user = UserFactory(username=f"load-member-{index}")
        RoleAssignmentFactory(user=user, role=Role.CRISIS_MEMBER, establishment=chu)
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        # The backend that logs people in (the first one only counts failures).
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        sessions.append(store.session_key)
    # The exercise, in another establishment: 20 injects one simulated minute apart.
    ch = EstablishmentFactory(name="CH exercice", region=region)
    animator = UserFactory(username="load-animator")
    RoleAssignmentFactory(user=animator, role=Role.EXERCISE_ANIMATOR, establishment=ch)
    animator = type(animator).objects.get(pk=animator.pk)
    exercise = exercise_services.exercise_create(actor=animator, establishment=ch, title="Exercice de charge")
    injects_add(actor=animator, exercise=exercise, count=20, every=datetime.timedelta(minutes=1),
                channels=("oral", "email"))
    participants_add(actor=animator, exercise=exercise)
    return {"crisis": crisis.pk, "sessions": sessions, "director": director, "chu": chu, "animator": animator,
            "exercise": exercise, "campaign_create": campaign_create, "RecipientInput": RecipientInput,
            "run_start": run_services.run_start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    from tests.support.smtp import SmtpServer

    processes: list[subprocess.Popen[bytes]] = []
    with throwaway_database(DB_NAME), SmtpServer() as smtp:
        data_dir = bench_environment(
            "load", fresh=True, PLANBLANC_CHANNELS=json.dumps({"email": [smtp.provider("sink", batch_size=100)]}))
        env = {**os.environ}
        try:
            started = time.perf_counter()
            data = setup()
            print(f"set-up: {time.perf_counter() - started:.1f} s ({machine_load()})")
            server_log = Path(data_dir) / "server.log"
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "planblanc", "serve", "--bind", f"127.0.0.1:{args.port}", "--workers", "2",
                 "--threads", "4"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                stderr=server_log.open("wb")))
            for _ in range(2):
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "planblanc", "worker", "--interval", "0.2", "-v", "0"],
                    env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    probe = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
                    probe.request("GET", "/healthz")
                    probe.getresponse().read()
                    break
                except (OSError, http.client.HTTPException):
                    time.sleep(0.5)
            stats, stop = Stats(), threading.Event()
            sessions = data["sessions"]
            threads = [threading.Thread(target=poller, args=(i, Client(args.port, sessions[i]), data["crisis"],
                                                             stats, stop)) for i in range(POLLERS)]
            threads += [threading.Thread(target=writer, args=(i, Client(args.port, sessions[POLLERS + i]),
                                                              data["crisis"], stats, stop)) for i in range(WRITERS)]
            load_started = time.monotonic()
            for thread in threads:
                thread.start()
            campaign = data["campaign_create"](
                actor=data["director"], establishment=data["chu"], title="Cyberattaque : consignes",
                message_fr="Bonjour {name}, consignes de la cellule de crise.",
                recipients=[data["RecipientInput"](name=f"Agent {i}", email=f"agent{i}@hopital.example")
                            for i in range(RECIPIENTS)],
            )
            campaign_at = time.monotonic()
            data["run_start"](actor=data["animator"], exercise=data["exercise"], speed=10)
            campaign_done = None
            while time.monotonic() - load_started < args.seconds:
                time.sleep(0.5)
                if campaign_done is None and len(_campaign_mail(smtp.recorder.received)) >= RECIPIENTS:
                    campaign_done = time.monotonic() - campaign_at
            stop.set()
            for thread in threads:
                thread.join(timeout=35)
            campaign_mail = _campaign_mail(smtp.recorder.received)
            received = len({r.rcpt for r in campaign_mail})
            report(stats, args.seconds, received, campaign_done, campaign.pk)
            print(f"  the same person twice: {len(campaign_mail) - received}; "
                  f"other emails (crisis and exercise messages): {len(smtp.recorder.received) - len(campaign_mail)}")
            if stats.errors:
                errors = [line for line in server_log.read_text(errors="replace").splitlines()
                          if "Error" in line or "error" in line]
                print("server errors (last 5 distinct):", *list(dict.fromkeys(errors))[-5:], sep="\n  ")
        finally:
            stop_processes(processes, timeout=20)


def _campaign_mail(received: list) -> list:
    """The campaign's emails among everything the sink got (the crisis and the exercise
    send their own)."""
    return [r for r in list(received) if re.fullmatch(r"agent\d+@hopital\.example", r.rcpt)]


def report(stats: Stats, seconds: float, received: int, campaign_done: float | None, campaign_id: int) -> None:
    from planblanc.exercises.models import InjectRun

    print(f"\nload for {seconds:.0f} s: {POLLERS} members polling every {POLL_SECONDS:.0f} s, {WRITERS} writing "
          f"every {WRITE_SECONDS:.0f} s, {RECIPIENTS} emails, an exercise at ×10; "
          f"{machine_load()}")
    print(f"{'request':32} {'count':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for kind, values in sorted(stats.times.items()):
        print(f"{kind:32} {len(values):7d} {statistics.median(values) * 1000:8.0f} "
              f"{percentile(values, 99) * 1000:8.0f} {max(values) * 1000:8.0f}")
    errors = sum(stats.errors.values())
    print(f"errors: {errors} {dict(stats.errors) if errors else ''}")
    expected = len(stats.posted) * POLLERS
    print(f"new entry seen by a member: {len(stats.lags)} sightings of {expected} expected; lag p50 "
          f"{statistics.median(stats.lags) if stats.lags else float('nan'):.2f} s, p99 "
          f"{percentile(stats.lags, 99):.2f} s, max {max(stats.lags, default=float('nan')):.2f} s "
          f"(floor: the {POLL_SECONDS:.0f} s polling period)")
    rate = f"{RECIPIENTS / campaign_done:.0f} messages/s, all sent in {campaign_done:.1f} s" if campaign_done else (
        "not finished within the run")
    print(f"campaign {campaign_id}: {received}/{RECIPIENTS} emails received by the sink; {rate}")
    lags = inject_lags(InjectRun.objects.all())
    if lags:
        print(f"exercise at ×10: {len(lags)}/{InjectRun.objects.count()} injects fired in the run, lag p50 "
              f"{statistics.median(lags):.2f} s, p99 {percentile(lags, 99):.2f} s")


if __name__ == "__main__":
    main()
