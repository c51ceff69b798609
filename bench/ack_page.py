"""The acknowledgement page (the signed link of an alert) on a slow phone network.

Serves the demo from a throw-away SQLite database (Django's threaded test server, static
files through WhiteNoise as in production, uncompressed), declares a crisis at the CHU
(which alerts the crisis cell), opens one recipient's acknowledgement link in Chromium
under CDP network throttling of 400 kbit/s down and up with 400 ms round trips (about
Chrome's "Slow 3G"), cold cache, and prints:

- bytes transferred (every response, headers included) and the ratio to the 150 kB goal;
- time to first contentful paint and to the load event;
- the same for the login page (the full layout, with Bootstrap and HTMX), measured in
  the same run as the baseline;
- the floor set by the link itself: bytes / throughput + one round trip per request
  chain (DNS and TLS excluded: loopback, plain HTTP).

    python bench/ack_page.py            # ~1 min
"""

from __future__ import annotations

import statistics
from typing import Any

from common import bench_environment, django_setup, launch_chromium, machine_load, throttle

GOAL_BYTES = 150_000
KBIT_PER_S = 400
THROUGHPUT = KBIT_PER_S * 1000 / 8  # bytes per second
RTT_MS = 400
RUNS = 3


def measure(browser: Any, url: str) -> dict[str, float]:
    context = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    cdp = throttle(context, page, kbit_per_s=KBIT_PER_S, rtt_ms=RTT_MS, cache=False)
    sizes: dict[str, float] = {}
    cdp.on("Network.loadingFinished", lambda event: sizes.__setitem__(event["requestId"], event["encodedDataLength"]))
    page.goto(url, wait_until="load", timeout=120_000)
    timing = page.evaluate("""() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const fcp = performance.getEntriesByName('first-contentful-paint')[0];
        return {fcp: fcp ? fcp.startTime : -1, load: nav.loadEventStart};
    }""")
    page.wait_for_timeout(200)
    context.close()
    return {"bytes": sum(sizes.values()), "requests": len(sizes), "fcp": timing["fcp"], "load": timing["load"]}


def main() -> None:
    bench_environment("ack", PLANBLANC_ALLOWED_HOSTS="127.0.0.1,localhost")
    django_setup()
    from django.test.testcases import LiveServerThread
    from playwright.sync_api import sync_playwright

    from planblanc.accounts.models import User
    from planblanc.alerting.models import Delivery
    from planblanc.alerting.services import ack_link_make
    from planblanc.core.demo import demo_load
    from planblanc.crisis.services import crisis_declare
    from planblanc.directory.models import Establishment

    demo_load()
    director = User.objects.get(username="directeur.chu")
    chu = Establishment.objects.get(name="CHU de Belleval")
    crisis_declare(actor=director, establishment=chu, kind="ransomware", severity="major",
                   first_facts="Écrans de rançon sur les postes des urgences.")
    delivery = Delivery.objects.order_by("pk").first()
    path = "/" + ack_link_make(delivery=delivery).split("/", 3)[-1]

    server = LiveServerThread("127.0.0.1", lambda handler: handler, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    base = f"http://127.0.0.1:{server.port}"
    results: dict[str, list[dict[str, float]]] = {"ack": [], "login": []}
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for _ in range(RUNS):
            results["ack"].append(measure(browser, base + path))
            results["login"].append(measure(browser, base + "/compte/connexion/"))
        browser.close()
    server.terminate()

    print(f"Throttling: {KBIT_PER_S} kbit/s down and up, {RTT_MS} ms RTT; cold cache; "
          f"median of {RUNS}; {machine_load()}")
    print(f"{'page':<28} {'requests':>8} {'transferred':>12} {'vs 150 kB':>10} {'first paint':>12} {'load':>8} "
          f"{'floor':>8}")
    for name, label in (("ack", "acknowledgement page"), ("login", "login page (full layout)")):
        rows = results[name]
        size = statistics.median([r["bytes"] for r in rows])
        requests = statistics.median([r["requests"] for r in rows])
        floor = size / THROUGHPUT * 1000 + RTT_MS * (2 if requests > 1 else 1)
        print(f"{label:<28} {requests:>8.0f} {size / 1000:>9.1f} kB {size / GOAL_BYTES:>9.2f}x "
              f"{statistics.median([r['fcp'] for r in rows]):>9.0f} ms {statistics.median([r['load'] for r in rows]):>5.0f} ms "
              f"{floor:>5.0f} ms")


if __name__ == "__main__":
    main()
