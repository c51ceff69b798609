"""The crisis console on a phone over a bad network: transfer size and time to a usable
console, in Chromium with CDP network throttling (400 kb/s down and up, 400 ms round
trip: Chrome's "Slow 3G"-like profile), for a crisis with 200 logbook entries and 170
tasks. Goal: a usable console in under 2 s.

"Usable" is when the console's menu and the logbook form are on screen and the page's
scripts have run (DOMContentLoaded: they are deferred), which is when a tap works.
Measured for:
  - the console (logbook section, the page a member lands on from the banner), with the
    browser's cache warm from the previous page (styles and scripts are shared), and cold;
  - the "all tasks" section with the 170 tasks;
  - a live poll that finds nothing new (204), what every member pays each second.

The server is gunicorn on loopback, SQLite in a temporary directory, the demo region.

    python bench/console_phone.py
    python bench/console_phone.py --runs 5
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    ROOT,
    bench_environment,
    django_setup,
    launch_chromium,
    machine_load,
    stop_processes,
    throttle,
)

GOAL_S = 2.0
KBPS = 400
RTT_MS = 400


def _prepare() -> int:
    """The demo region, a declared crisis filled to 200 entries and 170 tasks."""
    django_setup()
    from planblanc.accounts.models import User
    from planblanc.core.demo import DIRECTOR_LOGIN, demo_load
    from planblanc.crisis.models import CrisisTask, LogbookEntry
    from planblanc.crisis.services import crisis_declare, logbook_append, task_create
    from planblanc.directory.models import Establishment

    demo_load()
    director = User.objects.get(username=DIRECTOR_LOGIN)
    chu = Establishment.objects.get(memberships__person__user=director, memberships__function="director")
    crisis = crisis_declare(actor=director, establishment=chu, kind="ransomware", severity="critical",
                            first_facts="Écrans de rançon aux urgences à 3 h 05.")
    number = CrisisTask.objects.filter(crisis=crisis).count()
    while number < 170:
        number += 1
        task_create(actor=director, crisis=crisis, title=f"Tâche n° {number} : vérifier le poste de soins {number}",
                    owner_label="Cellule de crise")
    while LogbookEntry.objects.filter(crisis=crisis).count() < 200:
        logbook_append(actor=director, crisis=crisis, kind="event",
                       text="Point de situation : urgences en mode dégradé papier, laboratoire joint par téléphone, "
                            "transferts vers le CH voisin en cours d'organisation.")
    return int(crisis.pk)


def _measure(page: Any, url: str, ready: str) -> dict[str, float]:
    start = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded")
    page.locator(ready).first.wait_for(state="visible")
    usable = time.perf_counter() - start
    page.wait_for_load_state("load")
    figures = page.evaluate("""() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const res = performance.getEntriesByType('resource');
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      const sum = (list, key) => list.reduce((a, e) => a + (e[key] || 0), 0);
      return {
        html: nav.transferSize, html_body: nav.decodedBodySize,
        resources: sum(res, 'transferSize'), count: res.length,
        dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, fcp: fcp ? fcp.startTime : 0,
      };
    }""")
    figures["usable"] = usable
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.pop("DATABASE_URL", None)  # SQLite, in a new folder: the demo is loaded afresh
    bench_environment("console", fresh=True, PLANBLANC_SECRET_KEY="bench-only-not-secret-" + "x" * 40)
    crisis_id = _prepare()
    from tests.support.smtp import free_port

    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "planblanc.wsgi:application", "-b", f"127.0.0.1:{port}",
         "-w", "2", "--threads", "4", "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        from playwright.sync_api import sync_playwright
        from tests.browser.support import PHONE

        from planblanc.core.demo import DEMO_PASSWORD

        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            rows: dict[str, list[dict[str, float]]] = {"warm": [], "cold": [], "tasks": []}
            polls: list[tuple[float, int]] = []
            for _run in range(args.runs):
                context = browser.new_context(**PHONE, locale="fr-FR")
                page = context.new_page()
                page.goto(base + "/compte/connexion/")
                page.fill("#id_username", "cellule.chu")
                page.fill("#id_password", DEMO_PASSWORD)
                page.locator("main form button[type=submit]").click()
                page.wait_for_load_state("load")
                # Cold: nothing cached (as on a first visit).
                cdp = throttle(context, page, kbit_per_s=KBPS, rtt_ms=RTT_MS, cache=False)
                rows["cold"].append(_measure(page, f"{base}/crise/{crisis_id}/", "#entry-form"))
                cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
                # Warm: from the dashboard, as a member who tapped the banner.
                page.goto(base + "/", wait_until="load")
                rows["warm"].append(_measure(page, f"{base}/crise/{crisis_id}/", "#entry-form"))
                rows["tasks"].append(_measure(page, f"{base}/crise/{crisis_id}/v/taches/?filtre=all", "#crisis-tasks"))
                # One poll that finds nothing new, as every member pays each second.
                stamp = page.evaluate("document.getElementById('crisis-live').getAttribute('hx-get')")
                start = time.perf_counter()
                size = page.evaluate("""async (url) => {
                    const r = await fetch(url, {headers: {'HX-Request': 'true'}});
                    return [r.status, (await r.text()).length]; }""", base + stamp)
                polls.append((time.perf_counter() - start, size[0]))
                context.close()
            browser.close()
    finally:
        stop_processes([server], timeout=10)

    def med(key: str, what: str) -> float:
        return statistics.median(row[key] for row in rows[what])

    print(f"Console on a phone (390x844), Chromium throttled to {KBPS} kb/s, {RTT_MS} ms RTT; "
          f"200 logbook entries, 170 tasks; median of {args.runs} runs; {machine_load()}")
    for what, label in (("warm", "console, cache warm (from the dashboard)"),
                        ("cold", "console, cache empty (first visit)"),
                        ("tasks", "all 170 tasks, cache warm")):
        usable = med("usable", what)
        print(f"- {label}: usable in {usable:.2f} s (ratio to the {GOAL_S:.0f} s goal: {usable / GOAL_S:.2f}); "
              f"HTML {med('html', what) / 1000:.1f} kB transferred ({med('html_body', what) / 1000:.1f} kB decoded), "
              f"other resources {med('resources', what) / 1000:.1f} kB; first paint {med('fcp', what) / 1000:.2f} s, "
              f"DOMContentLoaded {med('dcl', what) / 1000:.2f} s")
    poll_time = statistics.median(p[0] for p in polls)
    print(f"- live poll with nothing new: HTTP {polls[0][1]}, {poll_time * 1000:.0f} ms "
          f"(one round trip is {RTT_MS} ms)")


if __name__ == "__main__":
    main()
