"""Every page that each persona of the demo can reach by following links, on a 360 px
wide phone, in French and in English: no sideways scrolling, no bare error page, no
untranslated placeholder or English message in a French page. And every URL pattern of
the site is either reached by this crawl or excluded below with its reason, so that a
page added later without being crawled fails here.

One browser, one page per persona (logged in once through a session cookie), one visit
per route and persona (the first link found to it), then one English visit per route."""

from __future__ import annotations

import os
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import polib
import pytest
from django.conf import settings
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve

from tests.browser.support import session_cookie

pytestmark = pytest.mark.browser

PHONE_360 = {"viewport": {"width": 360, "height": 780}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}

# Logins of the demo (core/demo.py), and "" for someone not logged in.
# One per persona of tests/conftest.py: national, regional, group, establishment
# administrator, crisis-cell member (who plays the exercise), animator, auditor (who
# observes it), the administrator of an establishment of another region, and the
# director (who may approve the plan and end a crisis).
PERSONAS = [
    "", "admin.national", "ars.demo", "rssi.ght", "admin.chu", "cellule.chu", "animateur.chu", "auditeur.chu",
    "admin.clinique", "directeur.chu",
]

# Routes that are not pages a persona reaches by a link, with the reason.
EXCLUDED_NAMESPACES = {
    "api": "the JSON API (tests/api), not pages; its documentation page is Swagger UI's own layout",
    "admin": "Django's own administration, a desktop tool kept for national administrators",
}
EXCLUDED = {
    "core:healthz": "a plain-text probe for load balancers, not a page",
    "core:service_worker": "the service worker script, registered by pwa.js (tests/plans/test_installable.py, "
                           "tests/browser/test_offline_app.py)",
    # Pages that exist only in a state the demo does not reach; each has its own page test.
    "accounts:api_token_revoke": "the revoke button shows once a token exists (tests/accounts, test_smoke)",
    "directory:import_preview": "a directory import in progress (tests/directory/test_import*)",
    "directory:import_confirm": "a directory import in progress (tests/directory/test_import*)",
    "directory:import_cancel": "a directory import in progress (tests/directory/test_import*)",
    "directory:import_result": "a finished directory import (tests/directory/test_import*)",
    "plans:start": "an establishment without a plan: every demo establishment has one (tests/plans/test_views)",
    "readiness:assessment_start": "a referential not yet assessed by an administrator (tests/readiness)",
    "readiness:assessment": "an assessment in progress (tests/readiness)",
    "readiness:answer": "an assessment in progress (tests/readiness)",
    "readiness:answer_history": "an assessment in progress (tests/readiness)",
    "readiness:evidence_add": "an assessment in progress (tests/readiness)",
    "readiness:evidence_file": "an uploaded evidence file (tests/readiness)",
    "readiness:action_edit": "an action plan item (tests/readiness)",
    "exercises:import_preview": "a chronogramme upload in progress (tests/exercises/test_chronogramme*)",
    "exercises:participant_ics": "a scheduled exercise's invitations (tests/exercises)",
    "exercises:ics": "a scheduled exercise's invitations (tests/exercises)",
    "exercises:inject_file": "a file handed with an inject: the demo has none (tests/exercises/test_material.py)",
    "exercises:inject_file_delete": "a file handed with an inject (POST; tests/exercises/test_material.py)",
    "exercises:run_player_attachment": "a fired inject's file in the player space (tests/exercises/test_material.py, "
                                       "tests/browser/test_media_feed_phone.py)",
    "exercises:invitations_send": "a scheduled exercise's invitations sent (POST; tests/exercises/test_invitations.py)",
    "alerting:contact_preference": "a person's channel preferences (tests/alerting)",
    "alerting:rotation_detail": "an on-call rotation: the demo has none (tests/alerting)",
    "alerting:escalation_detail": "an escalation: the demo has none (tests/alerting)",
    "alerting:escalation_state": "an escalation: the demo has none (tests/alerting)",
    "alerting:campaign_cap": "a regional campaign's CAP file (tests/alerting/test_cap*)",
    "crisis:attachment": "a logbook attachment (tests/crisis)",
    "crisis:indicator_delete": "an indicator of compromise recorded (tests/crisis)",
    "crisis:communication_action": "a communication draft (tests/crisis)",
    "crisis:improvement_status": "a closed crisis's improvement actions (tests/crisis)",
    "alerting:push_action": "answered by the service worker from a notification's buttons (POST), not a page",
    "alerting:device_subscribe": "called by push.js once the browser grants notifications (POST), not a page",
    "alerting:device_remove": "a registered phone's remove button (tests/alerting: Web Push)",
    "mutual_aid:catalogue_import_preview": "a catalogue import in progress (tests/mutual_aid)",
    "mutual_aid:request_detail": "a help request: the demo has none (tests/mutual_aid)",
    "mutual_aid:request_cancel": "a help request: the demo has none (tests/mutual_aid)",
    "mutual_aid:request_edxl": "a help request's EDXL-RM file (tests/mutual_aid)",
    "mutual_aid:offer_action": "an offer answering a help request (tests/mutual_aid)",
    "mutual_aid:offer_edxl": "an offer's EDXL-RM file (tests/mutual_aid)",
    "mutual_aid:hospital_status": "an EDXL-HAVE file for other systems (tests/mutual_aid)",
    "mutual_aid:regional_board": "a regional crisis cell: the demo has none (tests/mutual_aid)",
    "mutual_aid:regional_link": "a regional crisis cell: the demo has none (tests/mutual_aid)",
    "mutual_aid:regional_alert": "a regional crisis cell: the demo has none (tests/mutual_aid)",
    "mutual_aid:regional_logbook": "a regional crisis cell: the demo has none (tests/mutual_aid)",
    "alerting:sms_receipt": "called by the SMS gateway (Kannel) on loopback, not a page",
    "alerting:sms_reply": "called by the SMS gateway (Kannel) on loopback, not a page",
    "alerting:voice_callback": "called by the voice provider, not a page",
    "alerting:cap_receive": "a CAP message endpoint for other systems (POST), not a page",
    "alerting:oncall_ical": "a calendar feed with a personal token, read by calendar apps",
    "crisis:situation_revoke": "the staff situation page once published (tests/crisis/test_situation.py, "
                               "tests/browser/test_channels_phone.py)",
    "situation_public": "the staff situation page's unguessable public link, once published "
                        "(tests/crisis/test_situation.py, tests/browser/test_channels_phone.py)",
    # Personal signed links received by email or SMS (no account): each has its own tests
    # (tests/awareness, tests/browser/test_awareness_phone.py at 360 px).
    "awareness:launch_state": "the live card of a launch being prepared, fetched by its page: the demo's launch "
                              "is finished (tests/awareness/test_campaigns.py, test_awareness_launch_phone.py)",
    "awareness:learner_home": "a learner's personal signed link (tests/awareness)",
    "awareness:learner_module": "a learner's personal signed link (tests/awareness)",
    "awareness:learner_quiz": "a learner's personal signed link (tests/awareness)",
    "awareness:learner_certificate": "a learner's personal signed link (tests/awareness)",
    "awareness:drill_click": "a phishing drill's personal link (tests/awareness/test_drills.py)",
    "awareness:drill_lesson": "a phishing drill's personal link (tests/awareness/test_drills.py)",
    "awareness:drill_report": "a phishing drill's personal link (tests/awareness/test_drills.py)",
    "awareness:drill_image": "a phishing drill's tracking image, loaded by a mail reader (tests/awareness/test_drills.py)",
    "awareness:drill_seen": "what a phishing drill's page sends back once a person is on it (POST; "
                            "tests/awareness/test_drills.py, tests/browser/test_drill_phone.py)",
}
# Routes reached only as the target of a form (POST) or of an HTMX request: their
# pages are the forms that post to them, crawled above; the crawl never submits.
# Files: fetched once each (status only), as a phone would download them.
FILE_SUFFIXES = (".pdf", ".zip", ".csv", ".xlsx", ".json", ".ics", ".xml", ".ods", ".txt", ".stix")
FILE_ROUTES = {"plans:paper_kit", "plans:offline_bundle", "readiness:evidence_file", "crisis:attachment"}
# Query strings that only re-sort or page a list: the page itself is already crawled.
NOT_FOLLOWED = re.compile(r"^/(admin|api)/|^/compte/deconnexion/|^/i18n/")
# Route kwargs that make different pages of one route (each is visited).
DISTINCT_KWARGS = ("part", "kind", "slug")

HREFS = re.compile(r'<a\b[^>]*\bhref="([^"#][^"]*)"')
FRAGMENT_TARGETS = re.compile(r'(?:action|hx-post|hx-get|href)="(/[^"]*)"')
PLACEHOLDERS = re.compile(r"%\(\w+\)[sd]|\{\{|\}\}|\{%|%\}")
PYTHON_VALUES = re.compile(r"\bNone\b|\bnan\b|\bTrue\b|\bFalse\b")  # English words, French pages only
BARE_ERROR = re.compile(r"^(Bad Request|Forbidden|Not Found|Server Error|Internal Server Error)\b")


@dataclass
class Crawl:
    problems: list[str] = field(default_factory=list)
    reached: dict[str, str] = field(default_factory=dict)  # route → "persona url"
    targets: set[str] = field(default_factory=set)  # routes reached as form or HTMX targets
    files: set[str] = field(default_factory=set)
    visits: int = 0


def _patterns(resolver: Any = None, prefix: str = "", namespace: str = "") -> list[tuple[str, str]]:
    """(view name, route) of every URL pattern of the site."""
    found = []
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace])) if pattern.namespace else namespace
            found += _patterns(pattern, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            found.append((f"{namespace}:{pattern.name}" if namespace else pattern.name, prefix + str(pattern.pattern)))
    return found


def _route(path: str) -> tuple[str, str] | None:
    """(view name, key) of a path; the key tells apart pages of one route (its part)."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    key = match.view_name + "".join(f"|{match.kwargs[k]}" for k in DISTINCT_KWARGS if k in match.kwargs)
    return match.view_name, key


def _english_msgids() -> list[str]:
    """Messages long enough to be told apart from data, whose French differs: one of them
    in a French page is a string that escaped translation."""
    catalogue = polib.pofile(str(settings.LOCALE_PATHS[0] / "fr" / "LC_MESSAGES" / "django.po"))
    found = []
    for entry in catalogue.translated_entries():
        text = entry.msgid
        if "%" in text or "{" in text or "<" in text or len(text) < 24 or len(text.split()) < 4:
            continue
        if entry.msgstr.strip() and entry.msgstr != text:
            found.append(text)
    return found


def _session_cookie(username: str, base_url: str) -> dict[str, Any]:
    from planblanc.accounts.models import User

    return session_cookie(User.objects.get(username=username), base_url)


@pytest.fixture
def crawl_site(site: str, transactional_db: Any) -> Any:
    """The demo, with what makes every page exist: a crisis at the CHU, an exercise being
    run with a player (cellule.chu) and an observer (auditeur.chu), an assessment."""
    from django.db import connection
    from django.utils import translation

    from planblanc.crisis.db_guards import purge_logbook_for_tests
    from planblanc.exercises.models import ExerciseRun

    try:
        # As a request would: stored texts (the cell alert's title) in the site's language.
        with translation.override("fr"):
            starts = _seed()
        yield site, starts
    finally:
        ExerciseRun.objects.all().delete()
        purge_logbook_for_tests(connection)


def _seed() -> dict[str, list[str]]:
    """Returns the pages that no link leads to, per persona: the links of a message."""
    from planblanc.accounts.models import User
    from planblanc.alerting.models import Delivery
    from planblanc.alerting.services import ack_link_make
    from planblanc.crisis.services import crisis_declare
    from planblanc.directory.models import Establishment, Function, Membership
    from planblanc.exercises import services as exercise_services
    from planblanc.exercises.report import questionnaire_url
    from planblanc.exercises.run import inject_fire, run_start

    director = User.objects.get(username="directeur.chu")
    chu = Establishment.objects.get(name="CHU de Belleval")
    crisis_declare(actor=director, establishment=chu, kind="ransomware", severity="major",
                   first_facts="Écrans de rançon sur les postes des urgences à 03 h 10.")
    animator = User.objects.get(username="animateur.chu")
    exercise = exercise_services.exercise_create_from_kit(actor=animator, establishment=chu,
                                                          kit_slug="debutant-rancongiciel")
    staff = [m.person for m in Membership.objects.filter(establishment=chu, function=Function.STAFF,
                                                        person__user__isnull=True).select_related("person")[:3]]
    for person, username, role in ((staff[0], "cellule.chu", "player"), (staff[1], "auditeur.chu", "observer"),
                                   (staff[2], "animateur.chu", "animator")):
        person.user = User.objects.get(username=username)
        person.save(update_fields=["user"])
        exercise_services.participant_add(actor=animator, exercise=exercise, person=person, role=role)
    run = run_start(actor=animator, exercise=exercise, speed=10)
    first = run.injects.select_related("run__exercise__establishment", "inject").order_by("inject__number").first()
    inject_fire(actor=animator, row=first, by_hand=True)
    # A second exercise, still being prepared: its scenario may be edited and imported.
    draft = exercise_services.exercise_create_from_kit(actor=animator, establishment=chu,
                                                       kit_slug="debutant-rancongiciel", title="Exercice de printemps")
    exercise_services.participant_add(actor=animator, exercise=draft, person=staff[2], role="animator")
    # A regional exercise of the demo region, launched: its console, state and report.
    from planblanc.actors import regional_exercise_runner
    from planblanc.exercises import regional

    officer = User.objects.get(username="ars.demo")
    members = list(Establishment.objects.filter(region=chu.region).order_by("name")[:3])
    item = regional.regional_exercise_create(
        actor=officer, title="Exercice régional — {etablissement}", establishments=members,
        planned_start=run.started_at, kit_slug="debutant-rancongiciel")
    regional.regional_preparation_run(regional_id=item.pk)  # the worker's task
    for member in item.members.select_related("exercise", "establishment"):
        person = Membership.objects.filter(establishment=member.establishment).select_related("person").first()
        if person is not None:
            exercise_services.participant_add(actor=regional_exercise_runner("ars.demo"), exercise=member.exercise,
                                              person=person.person, role="animator")
    regional.regional_launch(actor=officer, regional=item)
    delivery = Delivery.objects.order_by("pk").first()
    return {
        "": [urlsplit(ack_link_make(delivery=delivery)).path, urlsplit(questionnaire_url(run=run)).path],
        "admin.chu": ["/compte/double-authentification/"],
        # The running exercise too: the first exercise linked may be another one (the
        # demo's phishing drill, recorded as an exercise, has no run).
        "animateur.chu": [f"/exercices/{draft.pk}/", f"/exercices/{exercise.pk}/",
                          f"/exercices/{exercise.pk}/deroule/"],
    }


def _check_page(page: Any, where: str, *, french: bool, english_msgids: list[str], crawl: Crawl) -> None:
    state = page.evaluate(
        """() => ({
          scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
          text: document.body ? document.body.innerText : '',
          nav: !!document.querySelector('main'), title: document.title,
          // The deepest elements that reach past the screen's edge: what makes the page wide.
          wide: Array.from(document.querySelectorAll('body *')).filter(e => {
              const r = e.getBoundingClientRect();
              return r.right > 361 && r.width > 0 && !Array.from(e.children).some(c => c.getBoundingClientRect().right > 361);
            }).slice(0, 3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
              + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
              + ' "' + (e.textContent || '').trim().slice(0, 40) + '"'),
        })"""
    )
    # A phone browser zooms out to fit a page that is too wide (innerWidth grows with it):
    # compare with the screen's own width as well.
    width = PHONE_360["viewport"]["width"]
    if state["scroll"] > state["inner"] or state["scroll"] > width or state["inner"] > width:
        crawl.problems.append(f"{where}: scrolls sideways ({state['scroll']}px, window {state['inner']}px, "
                              f"screen {width}px), too wide: {', '.join(state['wide'])}")
    if not state["nav"] or BARE_ERROR.match(state["text"].strip()):
        crawl.problems.append(f"{where}: a bare page without the site's layout: {state['text'][:80]!r}")
    placeholder = PLACEHOLDERS.search(state["text"])
    if placeholder:
        at = placeholder.start()
        crawl.problems.append(f"{where}: placeholder {state['text'][max(0, at - 30):at + 30]!r}")
    python_value = PYTHON_VALUES.search(state["text"]) if french else None
    if python_value:
        at = python_value.start()
        crawl.problems.append(f"{where}: Python value shown {state['text'][max(0, at - 30):at + 30]!r}")
    if french:
        leaked = [msgid for msgid in english_msgids if msgid in state["text"]]
        if leaked:
            crawl.problems.append(f"{where}: English in a French page: {leaked[:3]}")


def _links(page: Any) -> tuple[list[str], list[str], list[str]]:
    """(links to follow, HTMX GET sources, form and HTMX write targets) of the page."""
    return page.evaluate(
        """() => [
          Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
          Array.from(document.querySelectorAll('[hx-get]')).map(e => new URL(e.getAttribute('hx-get'), location.href).href),
          Array.from(document.querySelectorAll('form[action], [hx-post]')).map(e =>
            new URL(e.getAttribute('action') || e.getAttribute('hx-post') || '', location.href).href),
        ]"""
    )


def _crawl_persona(chromium: Any, base_url: str, username: str, crawl: Crawl, english_msgids: list[str],
                   seen_files: set[str], start: list[str], shared: set[str]) -> list[str]:
    """Visit every route this persona reaches, once; return the URLs visited (in order).
    `shared`: the routes already visited by another persona of the same establishment
    (same pages, same data): skipped, and what this persona visits is added to it."""
    context = chromium.new_context(locale="fr-FR", timezone_id="Europe/Paris", **PHONE_360)
    context.set_default_timeout(20_000)
    if username:
        context.add_cookies([_session_cookie(username, base_url)])
    page = context.new_page()
    origin = urlsplit(base_url).netloc
    who = username or "anonymous"
    done: set[str] = set()
    fragments_done: set[str] = set()
    forced = set(start)  # pages given by the seed: visited even when their route was seen
    visited: list[str] = []
    queue = deque((["/", "/plan/"] if username else ["/compte/connexion/"]) + start)
    try:
        while queue:
            path = queue.popleft()
            found = _route(urlsplit(path).path)
            if found is None:
                continue
            view_name, key = found
            if key in done and path not in forced:
                continue
            forced.discard(path)
            done.add(key)
            if key in shared and view_name not in FILE_ROUTES:
                # Checked in the browser for another persona of this establishment: only
                # its status, and its links to find what this persona alone reaches.
                answer = page.request.get(base_url + path)
                crawl.visits += 1
                if answer.status >= 400:
                    crawl.problems.append(f"{who} {path}: HTTP {answer.status} for a link shown to this persona")
                    continue
                for href in HREFS.findall(answer.text()):
                    parts = urlsplit(urljoin(base_url + path, href.replace("&amp;", "&")))
                    if parts.netloc == origin and not NOT_FOLLOWED.search(parts.path):
                        queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
                for target in FRAGMENT_TARGETS.findall(answer.text()):
                    target_route = _route(urlsplit(target.replace("&amp;", "&")).path)
                    if target_route:
                        crawl.targets.add(target_route[0])
                continue
            shared.add(key)
            if view_name in FILE_ROUTES or urlsplit(path).path.endswith(FILE_SUFFIXES):
                if view_name not in seen_files:
                    seen_files.add(view_name)
                    response = page.request.get(base_url + path, timeout=90_000)
                    crawl.visits += 1
                    if response.status >= 400:
                        crawl.problems.append(f"{who} {path}: file answered HTTP {response.status}")
                    crawl.files.add(view_name)
                crawl.reached.setdefault(view_name, f"{who} {path}")
                continue
            response = page.goto(base_url + path, wait_until="domcontentloaded")
            crawl.visits += 1
            status = response.status if response else 0
            where = f"{who} {path}"
            if status >= 400:
                crawl.problems.append(f"{where}: HTTP {status} for a link shown to this persona")
                continue
            landed = urlsplit(page.url)
            if landed.path != urlsplit(path).path:
                # A redirect (to the login page, or to the page a route leads to).
                landed_route = _route(landed.path)
                if landed_route and landed_route[1] not in done:
                    done.add(landed_route[1])
                    crawl.reached.setdefault(landed_route[0], f"{who} {landed.path}")
            crawl.reached.setdefault(view_name, where)
            visited.append(path)
            _check_page(page, where, french=True, english_msgids=english_msgids, crawl=crawl)
            links, fragments, targets = _links(page)
            for url in fragments:
                parts = urlsplit(url)
                fragment_route = _route(parts.path)
                if parts.netloc == origin and fragment_route and fragment_route[0] not in fragments_done:
                    fragments_done.add(fragment_route[0])
                    answer = page.request.get(url)
                    crawl.visits += 1
                    if answer.status >= 400:
                        crawl.problems.append(f"{where}: HTMX source {parts.path} answered HTTP {answer.status}")
                    crawl.reached[fragment_route[0]] = f"{who} {parts.path} (HTMX)"
                    # What the fragment holds (forms and links) once swapped into the page.
                    for target in FRAGMENT_TARGETS.findall(answer.text()):
                        target_route = _route(urlsplit(target.replace("&amp;", "&")).path)
                        if target_route:
                            crawl.targets.add(target_route[0])
            for url in targets:
                parts = urlsplit(url)
                target_route = _route(parts.path) if parts.netloc == origin else None
                if target_route:
                    crawl.targets.add(target_route[0])
            for url in links:
                parts = urlsplit(urljoin(page.url, url))
                if parts.netloc != origin or parts.scheme not in {"http", "https"} or NOT_FOLLOWED.search(parts.path):
                    continue
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    finally:
        context.close()
    return visited


def _english_pass(chromium: Any, base_url: str, username: str, paths: list[str], crawl: Crawl) -> None:
    context = chromium.new_context(locale="en-US", timezone_id="Europe/Paris", **PHONE_360)
    context.set_default_timeout(20_000)
    cookies = [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": base_url}]
    if username:
        cookies.append(_session_cookie(username, base_url))
    context.add_cookies(cookies)
    page = context.new_page()
    try:
        for path in paths:
            response = page.goto(base_url + path, wait_until="domcontentloaded")
            crawl.visits += 1
            where = f"{username or 'anonymous'} {path} (en)"
            if response is None or response.status >= 400:
                crawl.problems.append(f"{where}: HTTP {response and response.status}")
                continue
            if page.evaluate("document.documentElement.lang") != "en":
                crawl.problems.append(f"{where}: not in English")
            _check_page(page, where, french=False, english_msgids=[], crawl=crawl)
    finally:
        context.close()


def test_it_crawls_every_page_of_every_persona_on_a_phone_in_both_languages(crawl_site: str, chromium: Any) -> None:
    started = time.monotonic()
    crawl = Crawl()
    english_msgids = _english_msgids()
    seen_files: set[str] = set()
    english_routes: set[str] = set()
    # Personas of one establishment share their routes (same pages, same data): a route
    # one of them reaches alone (the director's approval, the animator's console) is
    # still visited by that one.
    shared_by_scope: dict[str, set[str]] = {}
    only = [name for name in os.environ.get("PLANBLANC_CRAWL_ONLY", "").split(",") if name]
    for username in [name for name in PERSONAS if not only or name in only]:
        site, starts = crawl_site
        scope = username.split(".")[-1] if username.endswith(".chu") else username
        visited = _crawl_persona(chromium, site, username, crawl, english_msgids, seen_files, starts.get(username, []),
                                 shared_by_scope.setdefault(scope, set()))
        # English: each route once, as the first persona that reached it.
        fresh = []
        for path in visited:
            found = _route(urlsplit(path).path)
            if found and found[1] not in english_routes:
                english_routes.add(found[1])
                fresh.append(path)
        _english_pass(chromium, site, username, fresh, crawl)

    patterns = _patterns() if not only else []
    missing = []
    for view_name, route in patterns:
        namespace = view_name.split(":")[0] if ":" in view_name else ""
        if namespace in EXCLUDED_NAMESPACES or view_name in EXCLUDED:
            continue
        if view_name not in crawl.reached and view_name not in crawl.targets:
            missing.append(f"{view_name} ({route})")
    elapsed = time.monotonic() - started
    print(f"crawl: {crawl.visits} requests, {len(crawl.reached)} routes reached as pages, "
          f"{len(crawl.targets)} as form targets, in {elapsed:.0f} s")
    report = []
    if missing:
        report.append("URL patterns that no persona reaches by a link nor a form (crawl them, or exclude them "
                      "with a reason in tests/browser/test_crawl.py):\n" + "\n".join(missing))
    if crawl.problems:
        report.append(f"{len(crawl.problems)} problems:\n" + "\n".join(crawl.problems))
    assert not report, "\n\n".join(report)
    assert crawl.visits > 100
