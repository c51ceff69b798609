"""The installed app reads the plan without network: after one visit with network, in
Chromium switched offline, the approved reflex sheets and the crisis-cell roster with
phone numbers open from the service worker's copy, which says how old it is. Only the
offline reading pages are kept (no form, no CSRF token), and logging out empties them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.support import PHONE, Watched, session_cookie

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

CACHE = "pb-offline-v1"


def demo_cookie(username: str, base_url: str) -> dict[str, Any]:
    from planblanc.accounts.models import User

    return session_cookie(User.objects.get(username=username), base_url)


def cached(page: Any) -> list[str]:
    return page.evaluate(
        f"caches.open('{CACHE}').then(c => c.keys()).then(keys => keys.map(r => new URL(r.url).pathname))"
    )


def test_it_opens_the_reflex_sheets_and_the_roster_offline_after_one_visit(site: str, browse: Any) -> None:
    from planblanc.directory.models import Establishment
    from planblanc.plans.models import Seat

    chu = Establishment.objects.get(name="CHU de Belleval")
    holder = Seat.objects.filter(plan__establishment=chu, holder__mobile_phone__gt="").select_related("holder") \
        .order_by("order").first().holder
    watched: Watched = browse(site, **PHONE)
    page = watched.page
    page.context.add_cookies([demo_cookie("cellule.chu", site)])

    # One visit with network: the worker installs and takes the page in hand.
    watched.goto("/")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=10_000)
    watched.goto("/plan/hors-ligne/")
    page.locator(f"a[href='/plan/hors-ligne/{chu.pk}/']").click()
    watched.settle()
    expect(page.locator("#fiches")).to_be_visible()
    made_at = page.locator(".pb-offline-age").get_attribute("data-made-at")
    expect(page.locator(".pb-offline-state")).to_be_hidden()
    watched.assert_clean("the offline pages with network")
    kept = cached(page)
    assert f"/plan/hors-ligne/{chu.pk}/" in kept and "/plan/hors-ligne/" in kept, kept
    assert all(path.startswith(("/plan/hors-ligne/", "/static/")) for path in kept), kept

    # Network off: the same pages open from the kept copy, which tells its age.
    page.context.set_offline(True)
    page.goto(f"{site}/plan/hors-ligne/{chu.pk}/")
    expect(page.locator(".pb-offline-state")).to_be_visible()
    assert page.locator(".pb-offline-age").get_attribute("data-made-at") == made_at, "served by the server?"
    roster = page.locator("#cellule")
    expect(roster.get_by_text(holder.full_name).first).to_be_visible()
    expect(roster.locator("a.phone[href^='tel:+33']").first).to_be_visible()
    expect(page.locator("#fiches h2, #fiches h3").first).to_be_visible()
    expect(page.locator("#contacts")).to_be_visible()
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] <= PHONE["viewport"]["width"], width
    assert "csrfmiddlewaretoken" not in page.content()
    page.goto(f"{site}/plan/hors-ligne/")
    expect(page.locator(f"a[href='/plan/hors-ligne/{chu.pk}/']")).to_be_visible()
    # A page that is not kept offline is not served from the copy.
    with pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED"):
        page.goto(f"{site}/annuaire/personnes/")

    # Back online, logging out empties the copy.
    page.context.set_offline(False)
    watched.problems.clear()
    watched.goto("/")
    page.locator(".navbar-toggler").click()
    page.locator("#pb-nav .dropdown-toggle").click()
    page.locator("form[data-logout] button").click()
    page.wait_for_url("**/compte/connexion/**")
    page.wait_for_function(f"caches.keys().then(names => !names.includes('{CACHE}'))", timeout=10_000)
