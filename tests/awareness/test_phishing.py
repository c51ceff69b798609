"""Phishing drills: sent through the email channel to a real SMTP server on loopback
(aiosmtpd), marked with the allow-list header; clicks, submissions and reports go through
the real links; what is typed on the drill page is never stored; results per department;
outsiders and forged links get 404."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from email import policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.apps import apps
from django.core import signing
from django.db import connection
from django.test import Client
from django.urls import reverse

from planblanc.awareness import phishing
from planblanc.awareness.models import Drill, DrillTarget
from tests.factories import DepartmentFactory, MembershipFactory, PersonFactory
from tests.support.smtp import free_port

pytestmark = pytest.mark.django_db


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


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


@pytest.fixture
def staff(world: Any) -> dict[str, Any]:
    pharmacy = DepartmentFactory(establishment=world.chu, name="Pharmacie CHU", kind="pharmacy")
    people = {}
    for name, dept in (("ines", world.chu_emergency), ("paul", world.chu_emergency), ("lea", pharmacy)):
        people[name] = PersonFactory(first_name=name, email=f"{name}@example.org")
        MembershipFactory(person=people[name], establishment=world.chu, department=dept)
    return people


def _link(message: email.message.EmailMessage) -> str:
    return re.search(r"http://localhost:8000(/sensibilisation/x/\S+/)", message.get_content()).group(1)


def test_the_templates_are_valid_and_french() -> None:
    slugs = {t.slug for t in phishing.templates()}
    assert {"livraison", "mot-de-passe", "facture", "document-rh", "carte-cps"} <= slugs


def test_a_drill_is_sent_marked_tracked_per_department_and_keeps_nothing_typed(
    world: Any, staff: dict[str, Any], inbox: Inbox, client_for: Any
) -> None:
    admin = client_for("establishment_admin")
    response = admin.post(reverse("awareness:drill_send", args=[world.chu.pk]), {"template": "mot-de-passe"})
    assert response.status_code == 302
    drill = Drill.objects.get(establishment=world.chu)
    by_rcpt = {str(m["To"]).split("<")[-1].rstrip(">"): m for m in inbox.messages}
    assert {"ines@example.org", "paul@example.org", "lea@example.org"} <= set(by_rcpt)
    ines = by_rcpt["ines@example.org"]
    assert ines["X-PlanBlanc-Drill"] == "phishing-exercise"
    assert ines["Subject"] == "Votre mot de passe expire aujourd'hui"
    assert "EXERCICE" not in ines.get_content()
    assert DrillTarget.objects.filter(drill=drill, delivered_at__isnull=False).count() == len(inbox.messages)

    # Inès clicks and types a password in the fake form; Léa reports the message.
    browser = Client()
    link = _link(ines)
    assert browser.get(link).status_code == 200
    typed = "MonSecretTrèsPrécis-4711"
    lesson = browser.post(link, {"username": "ines", "password": typed}, follow=True)
    assert lesson.status_code == 200 and 'id="exercise"' in lesson.content.decode()
    lea_link = _link(by_rcpt["lea@example.org"])
    report_url = lea_link + "signaler/"
    assert Client().post(report_url).status_code == 200

    target = DrillTarget.objects.get(drill=drill, person=staff["ines"])
    assert target.clicked_at and target.submitted_at and not target.reported_at
    assert DrillTarget.objects.get(drill=drill, person=staff["lea"]).reported_at

    # The typed value is nowhere in the database.
    with connection.cursor() as cursor:
        for model in apps.get_models():
            for field in model._meta.concrete_fields:
                if field.get_internal_type() in ("CharField", "TextField", "JSONField"):
                    table, column = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name(field.column)
                    sql = "SELECT COUNT(*) FROM " + table + " WHERE CAST(" + column + " AS TEXT) LIKE %s"  # noqa: S608 (names from the models)
                    cursor.execute(sql, [f"%{typed}%"])
                    assert cursor.fetchone()[0] == 0, f"{model._meta.label}.{field.name}"

    # Results per department, names never shown.
    page = admin.get(reverse("awareness:establishment", args=[world.chu.pk]))
    (_drill, _template, results) = page.context["drills"][0]
    rows = {row["department"]: row for row in results}
    assert rows["Urgences CHU"]["clicked"] == 1 and rows["Urgences CHU"]["submitted"] == 1
    assert rows["Pharmacie CHU"]["reported"] == 1
    assert "Inès" not in page.content.decode() and "ines@example.org" not in page.content.decode()


def test_the_outsider_cannot_send_a_drill_nor_open_a_forged_drill_link(
    world: Any, staff: dict[str, Any], inbox: Inbox, client_for: Any
) -> None:
    outsider = client_for("outsider_admin")
    assert outsider.post(reverse("awareness:drill_send", args=[world.chu.pk]), {"template": "facture"}).status_code == 404
    assert not Drill.objects.exists() and not inbox.messages
    forged = signing.dumps(1, salt="not-the-drill-salt")
    for name in ("awareness:drill_click", "awareness:drill_lesson", "awareness:drill_report"):
        assert outsider.get(reverse(name, args=[forged])).status_code == 404
        assert Client().post(reverse(name, args=["nonsense"])).status_code == 404
