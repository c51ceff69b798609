"""The demonstration data: every establishment has a plan from the template, and the CHU de
Belleval's plan is complete and approved by its director."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.management import call_command

from planblanc.accounts.models import AuditEntry, User
from planblanc.core.demo import DIRECTOR_LOGIN, demo_load
from planblanc.directory.models import Establishment, Function, Membership
from planblanc.plans.models import ExternalContact, ITSystem, Plan, PlanVersion, ReflexSheet, Seat
from planblanc.plans.selectors import plan_gaps
from planblanc.plans.snapshot import plan_snapshot, snapshot_sha256
from planblanc.plans.template_data import template_load
from planblanc.rights import may_approve_plan

# ARCEP's ranges kept for fiction, and the CNIL's public switchboard (the only real number
# of the template).
FICTION = re.compile(r"^\+33(19900\d{4}|63998\d{4})$")
PUBLIC = {"+33153732222"}


@pytest.fixture
def demo(db: Any) -> Any:
    demo_load()
    return Plan.objects.select_related("establishment").get(establishment__name="CHU de Belleval")


def test_it_gives_every_demo_establishment_a_plan_from_the_template(demo: Plan) -> None:
    content = template_load()
    establishments = Establishment.objects.all()
    assert establishments.count() == 4
    for establishment in establishments:
        plan = Plan.objects.get(establishment=establishment)
        assert ReflexSheet.objects.filter(plan=plan).count() == len(content.sheets)
        assert Seat.objects.filter(plan=plan).count() == len(content.seats)
        assert ExternalContact.objects.filter(plan=plan).count() == len(content.contacts)


def test_it_approves_the_chu_plan_as_version_1_by_its_director_with_no_blocking_gap(demo: Plan) -> None:
    version = PlanVersion.objects.get(plan=demo)
    assert version.number == 1
    director = User.objects.get(username=DIRECTOR_LOGIN)
    assert version.approved_by == director
    assert Membership.objects.filter(person__user=director, establishment=demo.establishment,
                                     function=Function.DIRECTOR).exists()
    assert may_approve_plan(director, demo)
    report = plan_gaps(plan=demo)
    assert report.blocking_count == 0, [gap.message for gap in report.gaps if gap.blocking]
    assert report.score >= 95
    # Nothing was changed after approval: the version is the draft.
    assert version.snapshot_sha256 == snapshot_sha256(plan_snapshot(demo))
    assert AuditEntry.objects.filter(action="plan.approve", actor=director).count() == 1


def test_it_fills_every_seat_contact_and_system_of_the_chu(demo: Plan) -> None:
    members = set(Membership.objects.filter(establishment=demo.establishment).values_list("person_id", flat=True))
    for seat in Seat.objects.filter(plan=demo).prefetch_related("deputies"):
        assert seat.holder_id in members, seat.title
        deputies = [deputy.person_id for deputy in seat.deputies.all()]
        assert deputies and seat.holder_id not in deputies, seat.title
        assert set(deputies) <= members
    assert demo.meeting_place and demo.fallback_place and demo.bridge_phone
    for contact in ExternalContact.objects.filter(plan=demo):
        assert contact.phone or contact.phone_24_7, contact.organisation
    for system in ITSystem.objects.filter(plan=demo):
        assert system.has_offline_copy and system.last_restore_test is not None, system.name


def test_it_uses_only_fiction_phone_numbers(demo: Plan) -> None:
    numbers = [demo.bridge_phone]
    for contact in ExternalContact.objects.filter(plan=demo):
        numbers += [contact.phone, contact.phone_24_7]
    numbers += list(ITSystem.objects.filter(plan=demo).values_list("vendor_contact_24_7", flat=True))
    numbers = [number for number in numbers if number]
    assert len(numbers) > 30
    assert [number for number in numbers if not FICTION.match(number) and number not in PUBLIC] == []


def test_it_loads_only_once(demo: Plan) -> None:
    counts = (Plan.objects.count(), Seat.objects.count(), PlanVersion.objects.count())
    demo_load()
    assert (Plan.objects.count(), Seat.objects.count(), PlanVersion.objects.count()) == counts


def test_it_prints_the_director_login_with_the_others(db: Any) -> None:
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    lines = out.getvalue().splitlines()
    assert any(line.split()[0] == DIRECTOR_LOGIN for line in lines[1:] if line.strip())
    assert any(line.split()[0] == "admin.chu" for line in lines[1:] if line.strip())


def test_it_lays_out_the_paper_kit_of_the_approved_chu_plan(demo: Plan) -> None:
    """The kit's HTML from approved version 1 carries the template's parts. (The PDF of this
    plan — about 60 A4 pages — takes WeasyPrint some 15 s, too slow for every run; the PDF
    path itself is covered by tests/plans/test_paper_kit.py.)"""
    from planblanc.plans.exports import kit_meta, paper_kit_html

    version = PlanVersion.objects.get(plan=demo)
    html = paper_kit_html(document=version.snapshot, meta=kit_meta(plan=demo, version=version, printed_by="test"))
    assert "CHU de Belleval" in html
    assert "BROUILLON" not in html
    for sheet in ReflexSheet.objects.filter(plan=demo):
        assert sheet.title.replace("'", "&#x27;") in html, sheet.title
    assert "CERT Santé" in html
    assert "Laboratoire de biologie médicale en mode dégradé" in html


def test_it_loads_the_bundled_referentials_with_the_demo_and_again_without_duplicates(db: Any) -> None:
    from planblanc.readiness.models import Referential

    call_command("load_demo", stdout=io.StringIO())
    first = set(Referential.objects.values_list("slug", "version"))
    call_command("load_demo", stdout=io.StringIO())
    assert {slug for slug, _version in first} == {"care", "gouvernance", "hygiene-anssi", "nis-ose"}
    assert set(Referential.objects.values_list("slug", "version")) == first
    assert Referential.objects.count() == len(first)


def test_the_demo_region_has_this_years_awareness_campaign_sent_and_partly_done(demo: Plan) -> None:
    """Launched by the ARS for the region's three establishments, invitations sent, and
    part of the staff trained (some at their second attempt), so that the campaign pages
    and the awareness observatory show figures."""
    from django.urls import reverse
    from django.utils import timezone

    from planblanc.alerting.models import Campaign as AlertCampaign
    from planblanc.awareness.models import Assignment, Campaign, CampaignLaunch, LaunchState
    from tests.conftest import verified_client

    launch = CampaignLaunch.objects.get()
    assert launch.state == LaunchState.INVITED and launch.year == timezone.localdate().year
    campaigns = {c.establishment.name: c for c in Campaign.objects.select_related("establishment")}
    assert set(campaigns) == {"CHU de Belleval", "Centre hospitalier de Rivemont", "EHPAD Les Tilleuls"}
    chu = campaigns["CHU de Belleval"]
    assert chu.people == 30 and chu.trained == 18 and chu.invited_at is not None
    assert campaigns["Centre hospitalier de Rivemont"].trained == 6 and campaigns["EHPAD Les Tilleuls"].trained == 0
    assert AlertCampaign.objects.get(pk=chu.alert_campaign_id).recipients.count() == 30  # the invitations
    assert Assignment.objects.filter(campaign=chu, attempts=2, completed_at__isnull=False).exists()
    half_way = Assignment.objects.filter(campaign=chu, completed_at__isnull=False).values("person").distinct().count()
    assert half_way == 20  # 18 trained, and 2 who passed their first module only

    officer = verified_client(User.objects.get(username="ars.demo"))
    page = officer.get(reverse("awareness:observatory"), {"niveau": "establishment"})
    rows = {row.label: row for row in page.context["page"]}
    assert rows["CHU de Belleval"].percent == 60.0
