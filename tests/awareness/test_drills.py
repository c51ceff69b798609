"""Phishing drills against a real SMTP server on loopback (aiosmtpd): a drill to 500
people, marked with the allow-list header; openings, clicks, submissions and reports go
through the real links; the rates per department on the page; nothing typed stored in any
table nor in the logs; reports by forwarding (files, maildir, SMTP, the listener command
in a thread and as a process); the drill counted as an exercise of the establishment.
Mail gateways' link scanners (HEAD, no or a scanner's User-Agent, a page fetched and left)
count no click; a person on the page does (its proof, forged ones refused). And the scope: outsiders get 404, a department head
sees only the rates of the departments they head, forged or expired links open nothing."""

from __future__ import annotations

import datetime
import email
import logging
import os
import re
import signal
import smtplib
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from email import policy
from email.charset import QP, Charset
from email.message import EmailMessage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.apps import apps
from django.core import signing
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from planblanc.awareness import drills
from planblanc.awareness.management.commands.drill_reports import ReportHandler
from planblanc.awareness.models import Drill, DrillTarget
from planblanc.directory.models import Establishment, Function
from planblanc.exercises.models import Exercise, ExerciseKind
from planblanc.readiness.observatory import Filters
from planblanc.readiness.observatory.sources import exercised_expr
from tests.conftest import verified_client
from tests.factories import DepartmentFactory, MembershipFactory, PersonFactory, UserFactory
from tests.support.smtp import Recorder, SmtpServer, free_port

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"http://localhost:8000(/sensibilisation/x/[^/\s]+/)")
# A person's browser (a phone's Chrome); the test client sends no User-Agent otherwise,
# which the drills take for a link scanner.
BROWSER_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/131.0.0.0 Mobile Safari/537.36")


class Inbox:
    """Keeps every message whole (headers and both parts)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.content)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"

    def by_rcpt(self) -> dict[str, EmailMessage]:
        return {str(m["To"]).split("<")[-1].rstrip(">"): m for m in self.messages}


@pytest.fixture
def inbox(settings: Any) -> Iterator[Inbox]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.ALERTING_CHANNELS = {"email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1", "port": port}]}
    try:
        yield handler
    finally:
        controller.stop()


def _person() -> Client:
    return Client(HTTP_USER_AGENT=BROWSER_UA)


def _proof(page: Any) -> str:
    return re.search(r'name="proof" value="([^"]+)"', page.content.decode()).group(1)  # type: ignore[union-attr]


def _human_click(browser: Client, link: str) -> None:
    """Open the look-alike page, then send what its script sends at the first touch."""
    page = browser.get(link)
    assert page.status_code == 200
    assert browser.post(link + "vu/", {"proof": _proof(page), "via": "script"}).status_code == 204


def _plain(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def _html(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]


def _link(message: EmailMessage) -> str:
    return LINK.search(_plain(message)).group(1)  # type: ignore[union-attr]


def _launch(client: Client, establishment: Establishment, **data: Any) -> Any:
    return client.post(reverse("drill_new", args=[establishment.pk]), {"template": "mot-de-passe",
                                                                        "population": "all", **data})


def _staff(world: Any, sizes: dict[str, int]) -> dict[str, list[Any]]:
    """People of the CHU per department (emails personne…@hopital.example)."""
    people: dict[str, list[Any]] = {}
    for name, size in sizes.items():
        department = world.chu_emergency if name == "Urgences CHU" else DepartmentFactory(
            establishment=world.chu, name=name, kind="pharmacy" if "Pharmacie" in name else "administration")
        people[name] = []
        for _i in range(size):
            person = PersonFactory()
            MembershipFactory(person=person, establishment=world.chu, department=department)
            people[name].append(person)
    return people


def _typed_value_nowhere(typed: str) -> None:
    with connection.cursor() as cursor:
        for model in apps.get_models():
            for field in model._meta.concrete_fields:
                if field.get_internal_type() in ("CharField", "TextField", "JSONField", "BinaryField"):
                    table = connection.ops.quote_name(model._meta.db_table)
                    column = connection.ops.quote_name(field.column)
                    sql = "SELECT COUNT(*) FROM " + table + " WHERE CAST(" + column + " AS TEXT) LIKE %s"  # noqa: S608 (names from the models)
                    cursor.execute(sql, [f"%{typed}%"])
                    assert cursor.fetchone()[0] == 0, f"{model._meta.label}.{field.name}"


def test_the_templates_are_valid_and_french() -> None:
    slugs = {t.slug for t in drills.templates()}
    assert {"livraison", "mot-de-passe", "facture", "document-rh", "carte-cps"} <= slugs
    assert all("{link}" in t.body and t.clues for t in drills.templates())


def test_a_drill_to_500_people_rates_on_the_page_and_nothing_typed_kept(
    world: Any, inbox: Inbox, client_for: Any, caplog: Any, settings: Any
) -> None:
    settings.AWARENESS_DRILL_HEADER = "X-Hopital-Exercice"
    staff = _staff(world, {"Urgences CHU": 200, "Pharmacie CHU": 150, "Accueil CHU": 147, "Standard CHU": 3})
    expected = Counter(p.email for people in staff.values() for p in people)
    admin = client_for("establishment_admin")
    response = _launch(admin, world.chu)
    assert response.status_code == 302
    drill = Drill.objects.get(establishment=world.chu)
    assert response["Location"] == reverse("awareness:drill_detail", args=[drill.pk])
    # Written as an outbox, sent by the worker (here, its function).
    assert not inbox.messages and drill.targets.count() >= 500
    while drills.drill_deliver():
        pass
    received = Counter(str(m["To"]).split("<")[-1].rstrip(">") for m in inbox.messages)
    assert {address: received[address] for address in expected} == dict(expected)  # exactly once each
    assert drill.targets.filter(delivered_at__isnull=True).count() == 0
    drill.refresh_from_db()
    assert drill.sent_at is not None

    by_rcpt = inbox.by_rcpt()
    first = by_rcpt[staff["Urgences CHU"][0].email]
    assert first["X-Hopital-Exercice"] == "phishing-exercise"
    assert first["Subject"] == "Votre mot de passe expire aujourd'hui"
    assert "EXERCICE" not in _plain(first)
    assert "/logo.gif" in _html(first) and _link(first) in _html(first)

    # Emergency: 50 open, 40 of them click, 10 of those submit the form with a typed
    # password; 20 report. Pharmacy: 15 click, 60 report. Reception: nobody does anything.
    typed = "MonSecretTrèsPrécis-4711"
    caplog.set_level(logging.DEBUG)
    browser = _person()
    for i, person in enumerate(staff["Urgences CHU"][:50]):
        html = _html(by_rcpt[person.email])
        image = re.search(r'src="http://localhost:8000([^"]+)"', html).group(1)  # type: ignore[union-attr]
        assert browser.get(image)["Content-Type"] == "image/gif"
        if i < 40:
            link = _link(by_rcpt[person.email])
            page = browser.get(link)
            assert page.status_code == 200
            # The fake form's fields have no name: a browser sends nothing typed.
            form = page.content.decode().split('id="drill-form"', 1)[1].split("</form>", 1)[0]
            fields = re.findall(r"<input(?![^>]*csrfmiddlewaretoken)[^>]*>", form)
            assert len(fields) == 2 and all(" name=" not in tag for tag in fields)
            assert browser.post(link + "vu/", {"proof": _proof(page), "via": "script"}).status_code == 204
            if i < 10:
                # Even a hostile client that sends values: nothing is read.
                lesson = browser.post(link, {"username": person.email, "password": typed}, follow=True)
                assert lesson.status_code == 200 and 'id="exercise"' in lesson.content.decode()
    for person in staff["Urgences CHU"][100:120] + staff["Pharmacie CHU"][:60]:
        link = _link(by_rcpt[person.email])
        assert browser.get(link + "signaler/").status_code == 200  # a confirmation, not yet a report
        assert browser.post(link + "signaler/").status_code == 200
    for person in staff["Pharmacie CHU"][100:115]:
        _human_click(browser, _link(by_rcpt[person.email]))

    _typed_value_nowhere(typed)
    assert typed not in caplog.text and person.email not in caplog.text

    page = admin.get(reverse("awareness:drill_detail", args=[drill.pk]))
    html = page.content.decode()
    click = dict(re.findall(r'data-click-rate="([^"]+)">(\d+ \(\d+ %\))', html))
    report = dict(re.findall(r'data-report-rate="([^"]+)">(\d+ \(\d+ %\))', html))
    assert click["Urgences CHU"] == "40 (20 %)" and report["Urgences CHU"] == "20 (10 %)"
    assert click["Pharmacie CHU"] == "15 (10 %)" and report["Pharmacie CHU"] == "60 (40 %)"
    assert click["Accueil CHU"] == "0 (0 %)"
    # The three of the switchboard, pooled with the world's few people without a department: hidden.
    assert "Standard CHU" not in html and "drill-hidden" in html
    results = drills.drill_results(drill=drill)
    emergency = next(r for r in results.rows if r.label == "Urgences CHU")
    assert (emergency.opened, emergency.clicked, emergency.submitted, emergency.reported) == (50, 40, 10, 20)
    # Never a name by default, and the reasons are on the page.
    assert staff["Urgences CHU"][0].full_name not in html and staff["Urgences CHU"][0].email not in html
    assert 'id="drill-why"' in html and "X-Hopital-Exercice" in html and "PLANBLANC_DRILL_NAMED_RESULTS" in html

    # Recorded as an exercise of the establishment, which the observatory counts.
    exercise = Exercise.objects.get(pk=drill.exercise_id)
    assert (exercise.establishment_id, exercise.kind, exercise.counts_for_obligation) == (
        world.chu.pk, ExerciseKind.PHISHING_DRILL, True)
    exercised = Establishment.objects.annotate(done=exercised_expr(Filters.default())).get(pk=world.chu.pk)
    assert exercised.done is True
    page = admin.get(reverse("exercises:detail", args=[exercise.pk]))
    assert page.status_code == 200
    assert 'badge text-bg-warning">' + escape(str(ExerciseKind.PHISHING_DRILL.label)) in page.content.decode()


def test_a_population_of_departments_or_audiences(world: Any, inbox: Inbox, client_for: Any) -> None:
    staff = _staff(world, {"Urgences CHU": 6, "Pharmacie CHU": 5})
    it = PersonFactory()
    MembershipFactory(person=it, establishment=world.chu, function=Function.IT_STAFF)
    admin = client_for("establishment_admin")
    pharmacy = staff["Pharmacie CHU"][0].memberships.get().department
    assert _launch(admin, world.chu, population="departments", departments=[pharmacy.pk]).status_code == 302
    drill = Drill.objects.latest("pk")
    assert set(drill.targets.values_list("person_id", flat=True)) == {p.pk for p in staff["Pharmacie CHU"]}
    assert _launch(admin, world.chu, population="audiences", audiences=["it"]).status_code == 302
    drill = Drill.objects.latest("pk")
    assert it.pk in set(drill.targets.values_list("person_id", flat=True))
    assert not drill.targets.filter(person__in=staff["Pharmacie CHU"]).exists()
    # A department of another establishment, or none chosen: an error beside the field.
    before = Drill.objects.count()
    page = _launch(admin, world.chu, population="departments", departments=[world.clinic_surgery.pk])
    assert page.status_code == 200 and page.context["form"].errors["departments"]
    page = _launch(admin, world.chu, population="audiences")
    assert page.context["form"].errors["audiences"]
    assert Drill.objects.count() == before
    assert Exercise.objects.filter(kind=ExerciseKind.PHISHING_DRILL).count() == before


@pytest.mark.django_db(transaction=True)
def test_a_report_by_forwarding_files_a_maildir_or_smtp(
    world: Any, inbox: Inbox, client_for: Any, tmp_path: Path, settings: Any
) -> None:
    staff = _staff(world, {"Urgences CHU": 5})
    _launch(client_for("establishment_admin"), world.chu)
    drills.drill_deliver()
    originals = {p.email: raw for p, raw in zip(
        staff["Urgences CHU"], [next(r for r in inbox.raw if p.email.encode() in r) for p in staff["Urgences CHU"]],
        strict=True)}
    a, b, c, d, _e = staff["Urgences CHU"]

    # a: forwarded as an attachment (the original whole, headers and all).
    forward = MIMEMultipart()
    forward["Subject"] = "TR: Votre mot de passe expire aujourd'hui"
    forward.attach(MIMEText("Message suspect, je vous le transmets.", "plain", "utf-8"))
    forward.attach(MIMEMessage(email.message_from_bytes(originals[a.email])))
    # b: forwarded inline, quoted-printable with the link folded by the mail reader.
    quoted = Charset("utf-8")
    quoted.body_encoding = QP
    inline = MIMEText("---------- Message transféré ----------\n" + _plain(
        email.message_from_bytes(originals[b.email], policy=policy.default)), "plain", quoted)  # type: ignore[arg-type]
    assert b"=\n" in inline.as_bytes()
    # c: a forged link in a forward counts for nothing.
    forged = MIMEText(f"voir http://localhost:8000/sensibilisation/x/{signing.dumps(1, salt='other')}/", "plain")
    maildir = tmp_path / "signalements"
    (maildir / "new").mkdir(parents=True)
    (maildir / "cur").mkdir()
    (maildir / "new" / "1.eml").write_bytes(forward.as_bytes())
    (maildir / "new" / "2.eml").write_bytes(inline.as_bytes())
    (tmp_path / "3.eml").write_bytes(forged.as_bytes())
    call_command("drill_reports", str(maildir), str(tmp_path / "3.eml"), "--remove")
    reported = set(DrillTarget.objects.filter(reported_at__isnull=False).values_list("person_id", flat=True))
    assert reported == {a.pk, b.pk}
    assert not list((maildir / "new").iterdir())

    # d: through the SMTP listener, to the report address only.
    settings.AWARENESS_DRILL_REPORT_ADDRESS = "signalement@chu.example"
    port = free_port()
    listener = Controller(ReportHandler(settings.AWARENESS_DRILL_REPORT_ADDRESS), hostname="127.0.0.1", port=port)
    listener.start()
    try:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                smtp.sendmail(d.email, ["quelqu-un@chu.example"], originals[d.email])
            assert not DrillTarget.objects.filter(person=d, reported_at__isnull=False).exists()
            smtp.sendmail(d.email, ["signalement@chu.example"], originals[d.email])
    finally:
        listener.stop()
    assert DrillTarget.objects.get(person=d).reported_at is not None
    assert DrillTarget.objects.get(person=c).reported_at is None


def test_a_department_head_sees_only_the_rates_of_their_departments_and_the_outsider_nothing(
    world: Any, inbox: Inbox, client_for: Any, settings: Any
) -> None:
    staff = _staff(world, {"Urgences CHU": 6, "Pharmacie CHU": 7})
    head_user = UserFactory(username="chef_urgences")
    MembershipFactory(person=PersonFactory(user=head_user, email=""), establishment=world.chu,
                      department=world.chu_emergency, function=Function.DEPARTMENT_HEAD)
    head = verified_client(head_user)
    admin = client_for("establishment_admin")
    _launch(admin, world.chu)
    drill = Drill.objects.get()
    for url in (reverse("awareness:drills", args=[world.chu.pk]), reverse("awareness:drill_detail", args=[drill.pk])):
        html = head.get(url).content.decode()
        assert "Urgences CHU" in html and "Pharmacie CHU" not in html
        assert 'action="' + reverse("drill_new", args=[world.chu.pk]) not in html
        assert "Pharmacie CHU" in admin.get(url).content.decode()
    assert _launch(head, world.chu).status_code == 404
    # Names: never to a department head; to the managers only when the platform allows it.
    detail = reverse("awareness:drill_detail", args=[drill.pk])
    name = staff["Pharmacie CHU"][0].full_name
    assert name not in admin.get(detail).content.decode()
    settings.AWARENESS_DRILL_NAMED_RESULTS = True
    assert name in admin.get(detail).content.decode()
    assert staff["Urgences CHU"][0].full_name not in head.get(detail).content.decode()

    outsider = client_for("outsider_admin")
    assert outsider.get(reverse("awareness:drills", args=[world.chu.pk])).status_code == 404
    assert outsider.get(f"/sensibilisation/exercice-hameconnage/{drill.pk}/").status_code == 404
    assert outsider.post(reverse("drill_new", args=[world.chu.pk]), {"template": "facture",
                                                                     "population": "all"}).status_code == 404
    assert Drill.objects.count() == 1


def test_a_forged_an_altered_or_an_expired_drill_link_opens_nothing(
    world: Any, inbox: Inbox, client_for: Any, settings: Any
) -> None:
    _staff(world, {"Urgences CHU": 5})
    _launch(client_for("establishment_admin"), world.chu)
    target = DrillTarget.objects.first()
    assert target is not None
    token = drills.target_token(target)
    forged = signing.dumps(target.pk, salt="not-the-drill-salt")
    altered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    outsider = client_for("outsider_admin")
    names = ("awareness:drill_click", "awareness:drill_lesson", "awareness:drill_report", "awareness:drill_image",
             "awareness:drill_seen")
    for bad in (forged, altered, "nonsense", "x" * 300):
        for name in names:
            assert outsider.get(reverse(name, args=[bad])).status_code == 404
            assert Client().post(reverse(name, args=[bad])).status_code == 404
    _human_click(_person(), reverse("awareness:drill_click", args=[token]))
    settings.AWARENESS_LINK_DAYS = -1
    for name in names:
        assert Client().post(reverse(name, args=[token])).status_code == 404
    target.refresh_from_db()
    assert target.clicked_at is not None and target.reported_at is None and target.submitted_at is None


def test_the_plain_text_is_never_escaped_and_the_html_part_always_is(
    world: Any, inbox: Inbox, client_for: Any
) -> None:
    person = PersonFactory(first_name='Léa <b>"&\'', last_name="O'Brien", email="lea@hopital.example")
    MembershipFactory(person=person, establishment=world.chu, department=world.chu_emergency)
    _launch(client_for("establishment_admin"), world.chu, population="departments",
            departments=[world.chu_emergency.pk])
    drills.drill_deliver()
    message = inbox.by_rcpt()["lea@hopital.example"]
    assert "Bonjour Léa <b>\"&' O'BRIEN," in _plain(message)
    assert "Bonjour Léa &lt;b&gt;&quot;&amp;&#x27; O&#x27;BRIEN," in _html(message)
    assert "<b>" not in _html(message)


def test_a_refused_message_is_retried_later_then_sent_once(world: Any, client_for: Any, settings: Any) -> None:
    staff = _staff(world, {"Urgences CHU": 5})
    busy = {staff["Urgences CHU"][0].email}
    recorder = Recorder(rcpt_answer=lambda address: "451 4.3.2 try again later" if address in busy else None)
    with SmtpServer(recorder) as server:
        settings.ALERTING_CHANNELS = {"email": [server.provider("relay")]}
        _launch(client_for("establishment_admin"), world.chu, population="departments",
                departments=[world.chu_emergency.pk])
        assert drills.drill_deliver() == 4
        late = DrillTarget.objects.get(person=staff["Urgences CHU"][0])
        assert late.delivered_at is None and late.attempts == 1 and late.claimed_until > timezone.now()
        assert drills.drill_deliver() == 0  # not due yet
        busy.clear()
        assert drills.drill_deliver(now=timezone.now() + datetime.timedelta(minutes=5)) == 1
    assert recorder.count_by_rcpt() == Counter(p.email for p in staff["Urgences CHU"])
    assert Drill.objects.get().sent_at is not None


# Link scanners ------------------------------------------------------------------------------

SCANNERS = {
    "Microsoft Office Existence Discovery": "Microsoft Office Existence Discovery",
    "Outlook before the browser": "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    "Safe Links preview": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) SafeLinks/1.0 (+https://aka.ms/safelinks)",
    "Teams preview": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                     "Chrome/120.0.0.0 Safari/537.36 SkypeUriPreview Preview/0.5",
    "Proofpoint": "Proofpoint URL Defense/3.0",
    "Mimecast": "Mimecast-URL-Protect/2.0",
    "Barracuda": "Mozilla/5.0 (compatible; Barracuda Sentinel)",
    "Vade": "Mozilla/5.0 (compatible; VadeSecure link checker)",
    "headless sandbox": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                        "HeadlessChrome/120.0.0.0 Safari/537.36",
    "Googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Facebook preview": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "WhatsApp preview": "WhatsApp/2.23.20.0",
    "curl": "curl/8.5.0",
    "python": "python-requests/2.31.0",
    "Java": "Java/17.0.9",
    "Go": "Go-http-client/1.1",
}
PEOPLE = {
    "Chrome on Android": BROWSER_UA,
    "Safari on iPhone": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
                        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Firefox on Windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Edge on Windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Samsung Internet": "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
                        "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Outlook on a phone (in-app browser)": "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A; wv) "
                                           "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
                                           "Chrome/131.0.0.0 Mobile Safari/537.36",
}


def test_the_list_of_link_scanners_tells_them_from_peoples_browsers() -> None:
    assert len(drills.scanner_agents()) >= 30  # every line is a valid expression (compiled when loaded)
    for name, agent in SCANNERS.items():
        assert drills.is_link_scanner(method="GET", user_agent=agent), name
    for name, agent in PEOPLE.items():
        assert not drills.is_link_scanner(method="GET", user_agent=agent), name
        assert not drills.is_link_scanner(method="POST", user_agent=agent), name
        assert drills.is_link_scanner(method="HEAD", user_agent=agent), name
        assert drills.is_link_scanner(method="OPTIONS", user_agent=agent), name
    assert drills.is_link_scanner(method="GET", user_agent="")
    assert drills.is_link_scanner(method="GET", user_agent="   ")


def _targets(world: Any, client_for: Any) -> list[DrillTarget]:
    """A drill's targets of the emergency department (5 people: shown on the page)."""
    _staff(world, {"Urgences CHU": 5})
    _launch(client_for("establishment_admin"), world.chu)
    return list(DrillTarget.objects.filter(department=world.chu_emergency).order_by("pk"))


def test_a_mail_gateway_fetching_the_links_records_no_click_and_is_shown_apart(
    world: Any, inbox: Inbox, client_for: Any
) -> None:
    target = _targets(world, client_for)[0]
    token = drills.target_token(target)
    link = reverse("awareness:drill_click", args=[token])
    image = reverse("awareness:drill_image", args=[token])
    # The gateway as the message arrives: Safe Links' check, a HEAD, no User-Agent, a
    # preflight, the image through a scanner, a POST of the form by a sandbox.
    assert Client(HTTP_USER_AGENT=SCANNERS["Safe Links preview"]).get(link).status_code == 200
    assert Client(HTTP_USER_AGENT=SCANNERS["Microsoft Office Existence Discovery"]).options(link).status_code == 204
    assert _person().head(link).status_code == 200
    assert Client().get(link).status_code == 200
    assert Client(HTTP_USER_AGENT=SCANNERS["Proofpoint"]).get(image)["Content-Type"] == "image/gif"
    sandbox = Client(HTTP_USER_AGENT=SCANNERS["headless sandbox"])
    page = sandbox.get(link)
    assert sandbox.post(link, {}).status_code == 302
    # Even one that runs the page's script: its proof counts as a scan, not a click.
    assert sandbox.post(link + "vu/", {"proof": _proof(page), "via": "script"}).status_code == 204
    # A scanner posing as a person's browser fetches the page and goes: nothing either.
    assert _person().get(link).status_code == 200
    target.refresh_from_db()
    assert (target.opened_at, target.clicked_at, target.submitted_at, target.reported_at) == (None, None, None, None)
    assert target.scans == 8 and target.scanned_at is not None
    results = drills.drill_results(drill=target.drill)
    assert results.total is not None and results.total.clicked == 0 and results.scans == 8

    admin = client_for("establishment_admin")
    for url in (reverse("awareness:drill_detail", args=[target.drill_id]),
                reverse("awareness:drills", args=[world.chu.pk])):
        html = admin.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
        assert "8 visites de scanners de liens des passerelles de messagerie ignorées" in html
    html = admin.get(reverse("awareness:drill_detail", args=[target.drill_id]), HTTP_ACCEPT_LANGUAGE="fr")
    assert "Safe Links" in html.content.decode()  # the reason, in the "why" box


def test_a_person_on_the_page_is_one_click_with_or_without_scripts(
    world: Any, inbox: Inbox, client_for: Any
) -> None:
    target, other = _targets(world, client_for)[:2]
    # With scripts: the page, then its proof at the first touch (twice: still one click).
    link = reverse("awareness:drill_click", args=[drills.target_token(target)])
    browser = _person()
    page = browser.get(link)
    html = page.content.decode()
    assert 'src="/static/awareness/drill-seen.js"' in html and "<script>" not in html
    assert '<noscript>' in html and 'action="' + link + 'vu/"' in html
    target.refresh_from_db()
    assert target.clicked_at is None
    assert browser.post(link + "vu/", {"proof": _proof(page), "via": "script"}).status_code == 204
    assert browser.post(link + "vu/", {"proof": _proof(page), "via": "script"}).status_code == 204
    target.refresh_from_db()
    assert target.clicked_at is not None and target.opened_at is not None and target.scans == 0
    first = target.clicked_at
    # Counted: the page no longer asks to continue, and a new visit changes nothing.
    again = browser.get(link).content.decode()
    assert "<noscript>" not in again and 'data-counted="1"' in again
    target.refresh_from_db()
    assert target.clicked_at == first
    # Without scripts: "Continue" posts the proof and comes back to the page.
    other_link = reverse("awareness:drill_click", args=[drills.target_token(other)])
    page = browser.get(other_link)
    answer = browser.post(other_link + "vu/", {"proof": _proof(page)})
    assert answer.status_code == 302 and answer["Location"] == other_link
    other.refresh_from_db()
    assert other.clicked_at is not None
    results = drills.drill_results(drill=target.drill)
    assert results.total is not None and results.total.clicked == 2 and results.scans == 0


def test_a_forged_proof_counts_no_click(world: Any, inbox: Inbox, client_for: Any) -> None:
    target, other = _targets(world, client_for)[:2]
    token = drills.target_token(target)
    seen = reverse("awareness:drill_seen", args=[token])
    proof = drills.seen_proof(target)
    browser = _person()
    forged = (
        "",
        proof[:-3] + ("AAA" if not proof.endswith("AAA") else "BBB"),  # altered
        drills.seen_proof(other),  # another person's proof
        token,  # the link itself, which scanners hold: signed for another purpose
        signing.dumps(target.pk, salt="not-the-drill-salt"),
        "x" * 300,
    )
    for bad in forged:
        assert browser.post(seen, {"proof": bad, "via": "script"}).status_code == 403
    assert browser.get(seen).status_code == 405
    target.refresh_from_db()
    other.refresh_from_db()
    assert target.clicked_at is None and other.clicked_at is None
    assert browser.post(seen, {"proof": proof, "via": "script"}).status_code == 204
    target.refresh_from_db()
    assert target.clicked_at is not None


# The report listener, as run ---------------------------------------------------------------


def _forwards(world: Any, inbox: Inbox, client_for: Any) -> tuple[list[Any], dict[str, bytes]]:
    staff = _staff(world, {"Urgences CHU": 5})["Urgences CHU"]
    _launch(client_for("establishment_admin"), world.chu)
    drills.drill_deliver()
    return staff, {p.email: next(r for r in inbox.raw if p.email.encode() in r) for p in staff}


def _send_forwards(port: int, sender: Any, original: bytes) -> None:
    """One forward to another address (refused, 550), one to the report address."""
    forward = MIMEMultipart()
    forward["Subject"] = "TR: Votre mot de passe expire aujourd'hui"
    forward.attach(MIMEText("Message suspect.", "plain", "utf-8"))
    forward.attach(MIMEMessage(email.message_from_bytes(original)))
    raw = forward.as_bytes(policy=forward.policy.clone(linesep="\r\n"))  # smtplib sends bytes as they are
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.sendmail(sender.email, ["quelqu-un@chu.example"], raw)
        assert refused.value.recipients["quelqu-un@chu.example"][0] == 550
        assert not DrillTarget.objects.filter(person=sender, reported_at__isnull=False).exists()
        assert smtp.sendmail(sender.email, ["Signalement@CHU.example"], raw) == {}


@pytest.mark.django_db(transaction=True)
def test_the_listener_command_records_a_forward_and_refuses_other_addresses(
    world: Any, inbox: Inbox, client_for: Any, settings: Any
) -> None:
    """`drill_reports --listen` itself (its aiosmtpd loop, its stop), in a thread."""
    import io
    import threading

    from planblanc.awareness.management.commands.drill_reports import Command

    settings.AWARENESS_DRILL_REPORT_ADDRESS = "signalement@chu.example"
    staff, originals = _forwards(world, inbox, client_for)
    port = free_port()
    out = io.StringIO()
    command = Command(stdout=out)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            call_command(command, "--listen", f"127.0.0.1:{port}")
        except BaseException as exc:  # shown by the test, not lost in the thread
            errors.append(exc)
            command.ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert command.ready.wait(30) and not errors, errors
    try:
        _send_forwards(port, staff[0], originals[staff[0].email])
    finally:
        command.stop.set()
        thread.join(30)
    assert not thread.is_alive() and not errors
    assert set(DrillTarget.objects.filter(reported_at__isnull=False).values_list("person_id", flat=True)) == {
        staff[0].pk}
    lines = out.getvalue().splitlines()
    assert lines == [f"listening on 127.0.0.1:{port} for forwarded drill messages",
                     "reported: 1, already reported: 0, invalid or expired links: 0", "stopped"]
    # The port is free again.
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", port, timeout=5)


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="the listener as a separate process needs a shared server database (DATABASE_URL=postgres://…)",
)
@pytest.mark.django_db(transaction=True)
def test_the_listener_as_a_process_records_a_forward_and_stops_on_sigterm(
    world: Any, inbox: Inbox, client_for: Any, tmp_path: Path, settings: Any
) -> None:
    """`planblanc drill_reports --listen HOST:PORT` as deployed: a process of its own, on
    the test database, stopped by its service manager's SIGTERM."""
    staff, originals = _forwards(world, inbox, client_for)
    s = connection.settings_dict
    url = f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    port = free_port()
    # The same key as the site that signed the links in the messages.
    env = {**os.environ, "DATABASE_URL": url, "PLANBLANC_DATA_DIR": str(tmp_path), "PLANBLANC_LOG_LEVEL": "WARNING",
           "PLANBLANC_SECRET_KEY": settings.SECRET_KEY,
           "PLANBLANC_DRILL_REPORT_ADDRESS": "signalement@chu.example",
           "PLANBLANC_DRILL_REPORT_BIND": f"127.0.0.1:{port}"}
    listener = subprocess.Popen(
        [sys.executable, "-m", "planblanc", "drill_reports", "--listen"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert listener.stdout is not None and listener.stderr is not None
        # The first line says it accepts connections (flushed, though stdout is a pipe).
        first = listener.stdout.readline()
        assert first == f"listening on 127.0.0.1:{port} for forwarded drill messages\n", listener.stderr.read()
        _send_forwards(port, staff[1], originals[staff[1].email])
        assert listener.stdout.readline() == "reported: 1, already reported: 0, invalid or expired links: 0\n"
        listener.send_signal(signal.SIGTERM)
        assert listener.wait(timeout=60) == 0, listener.stderr.read()[-3000:]
        assert listener.stdout.read() == "stopped\n"
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()
    assert set(DrillTarget.objects.filter(reported_at__isnull=False).values_list("person_id", flat=True)) == {
        staff[1].pk}
