"""Campaigns above one establishment and what follows an invitation: a group CISO or a
regional officer launches one campaign for every establishment of their scope (and
nowhere else); the one reminder goes to those not done, once, even with several workers;
the live progress and the counters the observatory reads rise as people finish; the
awareness observatory per establishment, group and region, over the years, with the
drill rates' small counts hidden; the CaRE axis 3 measures."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from planblanc.alerting.models import Campaign as AlertCampaign
from planblanc.alerting.models import Delivery
from planblanc.alerting.services import outgoing_message
from planblanc.awareness import observatory, services
from planblanc.awareness.models import Assignment, Campaign, CampaignLaunch, Drill, DrillTarget
from planblanc.directory.models import Establishment
from tests.factories import DepartmentFactory, MembershipFactory, PersonFactory
from tests.support.concurrency import run_together

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(english_messages: None) -> None:
    """The assertions read the English messages."""


def _deadline(days: int = 30) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def _pass_all(campaign: Campaign, person: Any) -> None:
    """The person passes every module of theirs, through the quiz service."""
    learner = services.Learner(campaign=campaign, person=person)
    for assignment in Assignment.objects.filter(campaign=campaign, person=person, completed_at=None):
        right = {q.id: {i for i, a in enumerate(q.answers) if a.correct}
                 for q in services.quiz_questions(assignment=assignment)}
        services.quiz_submit(learner=learner, assignment=assignment, answers=right)


def _launch(client: Client, scope: str, title: str = "Sensibilisation GHT") -> Any:
    return client.post(reverse("awareness:launches"), {
        "scope": scope, "title": title, "year": timezone.localdate().year, "deadline": _deadline().isoformat(),
        "channel": "email", "reminder_days": 7})


def test_a_group_ciso_launches_for_the_establishments_of_the_group_only(world: Any, client_for: Any) -> None:
    ciso = client_for("group_ciso")
    page = ciso.get(reverse("awareness:launches"))
    scopes = dict(page.context["form"].fields["scope"].choices)
    assert set(scopes) == {f"group-{world.group_a.pk}"}

    assert _launch(ciso, f"group-{world.group_a.pk}").status_code == 302
    launch = CampaignLaunch.objects.get()
    assert launch.group == world.group_a
    campaigns = {c.establishment: c for c in launch.campaigns.all()}
    assert set(campaigns) == {world.chu, world.ch}  # not the EHPAD outside the group, not region B
    assert campaigns[world.chu].people == Assignment.objects.filter(
        campaign=campaigns[world.chu]).values("person").distinct().count() == 1
    assert Assignment.objects.filter(campaign=campaigns[world.ch], person=world.ch_person).exists()

    # A region, another group's region, the whole country: refused, nothing written.
    for scope in (f"region-{world.region_a.pk}", f"region-{world.region_b.pk}", "national"):
        response = _launch(ciso, scope, title="Trop large")
        assert response.status_code in (200, 403, 404)
    assert not Campaign.objects.filter(title="Trop large").exists()

    # The invitations: one alert per establishment, each person their own signed link.
    assert ciso.post(reverse("awareness:launch_invite", args=[launch.pk])).status_code == 302
    invited = {c.establishment: c for c in launch.campaigns.all()}
    alert = AlertCampaign.objects.get(pk=invited[world.ch].alert_campaign_id)
    delivery = Delivery.objects.get(recipient__campaign=alert, recipient__person=world.ch_person)
    assert "/sensibilisation/l/" in outgoing_message(delivery).body
    assert alert.establishment == world.ch


def test_a_regional_officer_launches_for_the_region_and_outsiders_reach_nothing(world: Any, client_for: Any) -> None:
    officer = client_for("regional_officer")
    assert _launch(officer, f"region-{world.region_a.pk}", title="ARS A").status_code == 302
    launch = CampaignLaunch.objects.get(title="ARS A")
    assert {c.establishment for c in launch.campaigns.all()} == {world.chu, world.ch, world.ehpad}
    assert _launch(officer, f"region-{world.region_b.pk}", title="ARS B").status_code == 200
    assert not CampaignLaunch.objects.filter(title="ARS B").exists()

    # The administrator of an establishment of another region (and an establishment's own
    # administrator) launches nothing and cannot send the region's invitations.
    for persona in ("outsider_admin", "establishment_admin"):
        client = client_for(persona)
        assert client.get(reverse("awareness:launches")).status_code == 404
        assert client.post(reverse("awareness:launch_invite", args=[launch.pk])).status_code == 404
        assert client.get(reverse("awareness:launch_state", args=[launch.pk])).status_code == 404
    assert not Campaign.objects.filter(launch=launch, invited_at__isnull=False).exists()
    with pytest.raises(PermissionDenied):
        services.launch_create(actor=world.outsider_admin, region=world.region_a, year=2026, title="x",
                               deadline=_deadline())


def test_a_large_launch_is_prepared_then_invited_in_the_background_and_resumes_after_a_crash(
    world: Any, client_for: Any, settings: Any, monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from django_tasks_db.models import DBTaskResult

    from planblanc.awareness import tasks

    settings.AWARENESS_LAUNCH_AT_ONCE_PEOPLE = 0  # every launch goes to the background
    monkeypatch.setattr(services, "LAUNCH_PREPARE_STEP", 1)  # one establishment per step
    officer = client_for("regional_officer")
    officer.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the assertions read the English card
    with django_capture_on_commit_callbacks(execute=True):
        assert _launch(officer, f"region-{world.region_a.pk}", title="ARS A").status_code == 302
    launch = CampaignLaunch.objects.get(title="ARS A")
    # The request wrote the launch only, and queued its task.
    assert (launch.state, launch.establishments, launch.prepared) == ("preparing", 3, 0)
    assert not launch.campaigns.exists()
    assert DBTaskResult.objects.filter(status="READY", task_path=tasks.launch_run.module_path).count() == 1
    card = officer.get(reverse("awareness:launch_state", args=[launch.pk]))
    assert "Preparing: 0 of 3 establishments" in card.content.decode()
    assert 'hx-trigger="every' in card.content.decode()  # polled while preparing
    assert "No background worker is running right now" in card.content.decode()  # none in this test

    # One step: one establishment's campaign. Then a crash in the middle of the next one:
    # nothing of it is kept, and the launch still says one.
    assert services.launch_step(launch_id=launch.pk) is True
    real_write = services._campaigns_write

    def crash(**kwargs: Any) -> Any:
        real_write(**kwargs)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(services, "_campaigns_write", crash)
    with pytest.raises(RuntimeError):
        services.launch_step(launch_id=launch.pk)
    monkeypatch.setattr(services, "_campaigns_write", real_write)
    launch.refresh_from_db()
    assert launch.prepared == launch.campaigns.count() == 1

    # The officer asks for the invitations while it prepares: they follow, in place.
    response = officer.post(reverse("awareness:launch_invite", args=[launch.pk]), HTTP_HX_REQUEST="true")
    assert "The invitations follow as soon as it is ready." in response.content.decode()
    again = officer.post(reverse("awareness:launch_invite", args=[launch.pk]), HTTP_HX_REQUEST="true")
    assert "being sent already" in again.content.decode()

    # The task (run here in the test process) finishes the rest: one campaign per
    # establishment, then one alert per establishment and each person invited once.
    assert tasks.launch_run.call(launch.pk) is False
    launch.refresh_from_db()
    assert launch.state == "invited"
    campaigns = list(launch.campaigns.all())
    assert sorted(c.establishment_id for c in campaigns) == sorted([world.chu.pk, world.ch.pk, world.ehpad.pk])
    people = Assignment.objects.filter(campaign__launch=launch).values("campaign", "person").distinct().count()
    assert launch.invited_people == people > 0
    alerts = [c.alert_campaign_id for c in campaigns if c.alert_campaign_id]
    recipients = AlertCampaign.objects.filter(pk__in=alerts).values_list("recipients__person_id", flat=True)
    assert len(recipients) == len(set(recipients)) == people
    card = officer.get(reverse("awareness:launch_state", args=[launch.pk])).content.decode()
    assert f"to {people} people" in card and 'hx-trigger="every' not in card

    # A worker that starts finds unfinished launches and queues them again.
    DBTaskResult.objects.all().delete()
    left = services.launch_create(actor=world.regional_officer, region=world.region_a, year=2026, title="Reprise",
                                  deadline=_deadline())
    DBTaskResult.objects.all().delete()
    tasks.launches_wake_unfinished()
    queued = DBTaskResult.objects.get(status="READY", task_path=tasks.launch_run.module_path)
    assert queued.args_kwargs["args"] == [left.pk]
    tasks.launches_wake_unfinished()  # already queued: not twice
    assert DBTaskResult.objects.filter(status="READY").count() == 1


def test_the_reminder_goes_once_to_those_not_done(world: Any, settings: Any) -> None:
    done = PersonFactory(first_name="Alice")
    MembershipFactory(person=done, establishment=world.chu, department=world.chu_emergency)
    late = PersonFactory(first_name="Bruno")
    MembershipFactory(person=late, establishment=world.chu, department=world.chu_emergency)
    campaign = services.campaign_create(actor=world.establishment_admin, establishment=world.chu,
                                        year=timezone.localdate().year, title="Rappels", deadline=_deadline(10),
                                        reminder_days=7)
    services.campaign_invite(actor=world.establishment_admin, campaign=campaign)
    _pass_all(campaign, done)

    # Not yet: the reminder falls 7 days before the deadline, i.e. in 3 days.
    assert services.reminders_due() == []
    assert services.reminders_process() == 0
    day = timezone.localdate() + datetime.timedelta(days=3)
    assert services.reminders_due(today=day) == [campaign.pk]
    reminded = services.reminders_process(today=day)
    assert reminded == Assignment.objects.filter(campaign=campaign, completed_at=None).values(
        "person").distinct().count()
    campaign.refresh_from_db()
    assert campaign.reminded_at is not None
    alert = AlertCampaign.objects.get(pk=campaign.reminder_alert_id)
    people = set(alert.recipients.values_list("person_id", flat=True))
    assert late.pk in people and done.pk not in people
    body = outgoing_message(Delivery.objects.get(recipient__campaign=alert, recipient__person=late)).body
    assert "Rappel" in body and "/sensibilisation/l/" in body

    # A second pass, and the next day's: nothing more.
    assert services.reminders_process(today=day) == 0
    assert services.reminders_process(today=day + datetime.timedelta(days=1)) == 0
    assert AlertCampaign.objects.filter(title="Rappels").count() == 2  # the invitation and the one reminder


@pytest.mark.django_db(transaction=True)
def test_two_workers_reminding_at_once_send_one_reminder(world: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises the whole database)")
    for _ in range(3):
        MembershipFactory(person=PersonFactory(), establishment=world.chu)
    campaign = services.campaign_create(actor=world.establishment_admin, establishment=world.chu,
                                        year=timezone.localdate().year, title="Course", deadline=_deadline(3))
    services.campaign_invite(actor=world.establishment_admin, campaign=campaign)
    results = run_together(lambda: services.campaign_remind(campaign_id=campaign.pk))
    assert sorted(results)[0] == 0 and sorted(results)[1] > 0
    assert AlertCampaign.objects.filter(title="Course").count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_one_launch_take_turns_and_invite_each_establishment_once(
    world: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises the whole database)")
    monkeypatch.setattr(services, "LAUNCH_PREPARE_STEP", 1)
    for establishment in (world.chu, world.ch, world.ehpad):
        for _ in range(3):
            MembershipFactory(person=PersonFactory(), establishment=establishment)
    launch = services.launch_create(actor=world.regional_officer, region=world.region_a,
                                    year=timezone.localdate().year, title="Deux workers", deadline=_deadline())
    services.launch_invite(actor=world.regional_officer, launch=launch)  # asked for while preparing
    assert run_together(lambda: services.launch_run(launch_id=launch.pk)) == [False, False]
    launch.refresh_from_db()
    assert launch.state == "invited"
    establishments = list(launch.campaigns.values_list("establishment_id", flat=True))
    assert sorted(establishments) == sorted({world.chu.pk, world.ch.pk, world.ehpad.pk})
    alerts = list(launch.campaigns.values_list("alert_campaign_id", flat=True))
    assert None not in alerts and AlertCampaign.objects.filter(title="Deux workers").count() == 3
    people = list(AlertCampaign.objects.filter(pk__in=alerts).values_list("recipients__person_id", flat=True))
    assert len(people) == len(set(people)) == launch.invited_people >= 9


def test_progress_is_live_and_a_department_head_sees_their_departments_only(world: Any, client_for: Any) -> None:
    maternity = DepartmentFactory(establishment=world.chu, name="Maternité CHU", kind="maternity")
    nurse = PersonFactory(first_name="Inès")
    MembershipFactory(person=nurse, establishment=world.chu, department=world.chu_emergency)
    midwife = PersonFactory(first_name="Léa")
    MembershipFactory(person=midwife, establishment=world.chu, department=maternity)
    from planblanc.directory.models import Function
    from tests.factories import UserFactory

    head_user = UserFactory(username="head_of_maternity")
    MembershipFactory(person=PersonFactory(user=head_user), establishment=world.chu, department=maternity,
                      function=Function.DEPARTMENT_HEAD)
    campaign = services.campaign_create(actor=world.establishment_admin, establishment=world.chu,
                                        year=timezone.localdate().year, title="Live", deadline=_deadline())
    url = reverse("awareness:campaign_progress", args=[campaign.pk])
    admin = client_for("establishment_admin")
    before = {row.label: row.percent for row in admin.get(url).context["by_department"]}
    assert before["Urgences CHU"] == 0

    _pass_all(campaign, nurse)
    fragment = admin.get(url)
    after = {row.label: row for row in fragment.context["by_department"]}
    assert after["Urgences CHU"].trained == 1
    assert 'hx-trigger="every' in fragment.content.decode()
    campaign.refresh_from_db()
    assert (campaign.trained, campaign.people) == (1, 4)

    head = Client()
    head.force_login(head_user, backend="django.contrib.auth.backends.ModelBackend")
    labels = [row.label for row in head.get(url).context["by_department"]]
    assert labels == ["Maternité CHU"]
    assert client_for("outsider_admin").get(url).status_code == 404


def test_a_link_names_one_person_of_one_campaign(world: Any) -> None:
    """A correctly signed link for someone who is not in the campaign, or a link of one
    campaign used for another, opens nothing."""
    campaign = services.campaign_create(actor=world.establishment_admin, establishment=world.chu,
                                        year=timezone.localdate().year, title="Un lien", deadline=_deadline())
    other = services.campaign_create(actor=world.outsider_admin, establishment=world.clinic,
                                     year=timezone.localdate().year, title="Ailleurs", deadline=_deadline())
    stranger = signing.dumps({"c": campaign.pk, "p": world.clinic_person.pk}, salt=services.LINK_SALT, compress=True)
    crossed = signing.dumps({"c": other.pk, "p": world.chu_person.pk}, salt=services.LINK_SALT, compress=True)
    browser = Client()
    for token in (stranger, crossed):
        assert browser.get(reverse("awareness:learner_home", args=[token])).status_code == 404
    good = services.link_make(campaign=campaign, person=world.chu_person)
    assert browser.get(reverse("awareness:learner_home", args=[good])).status_code == 200


def _drill(establishment: Any, people: int, *, clicked: int, reported: int) -> None:
    drill = Drill.objects.create(establishment=establishment, template="carte-cps", sent_at=timezone.now())
    now = timezone.now()
    for index in range(people):
        person = PersonFactory()
        DrillTarget.objects.create(drill=drill, person=person, delivered_at=now,
                                   clicked_at=now if index < clicked else None,
                                   reported_at=now if index >= people - reported else None)


def test_a_drill_sent_on_new_years_night_counts_in_the_year_of_the_establishment(world: Any) -> None:
    """1 January 2027 at 00:30 in Paris is still 2026 in UTC: the drill belongs to 2027,
    as every other yearly figure of the observatory (the establishments' calendar year)."""
    drill = Drill.objects.create(establishment=world.chu, template="carte-cps",
                                 sent_at=datetime.datetime(2026, 12, 31, 23, 30, tzinfo=datetime.UTC))
    for _index in range(6):
        DrillTarget.objects.create(drill=drill, person=PersonFactory(), delivered_at=drill.sent_at)
    establishments = Establishment.objects.filter(pk=world.chu.pk)
    with timezone.override("Europe/Paris"):
        by_year = {year: observatory.phishing_by(establishments=establishments, year=year, level="establishment")
                   for year in (2026, 2027)}
    assert by_year[2026] == []
    assert [row.targeted for row in by_year[2027]] == [6]


def test_the_awareness_observatory_by_level_over_the_years_with_small_counts_hidden(
    world: Any, client_for: Any
) -> None:
    year = timezone.localdate().year
    for person in (PersonFactory(), PersonFactory(), PersonFactory()):
        MembershipFactory(person=person, establishment=world.chu)
    launch = services.launch_create(actor=world.regional_officer, region=world.region_a, year=year,
                                    title="ARS", deadline=_deadline())
    assert services.launch_run(launch_id=launch.pk) is False
    chu_campaign = launch.campaigns.get(establishment=world.chu)
    _pass_all(chu_campaign, world.chu_person)
    ch_campaign = launch.campaigns.get(establishment=world.ch)
    _pass_all(ch_campaign, world.ch_person)
    # Last year's campaign, for the trend: everyone was trained.
    old = Campaign.objects.create(establishment=world.chu, year=year - 1, title="Avant", deadline=_deadline(),
                                  people=10, trained=10)
    assert old.pk
    # Region B is not the officer's.
    services.campaign_create(actor=world.outsider_admin, establishment=world.clinic, year=year, title="B",
                             deadline=_deadline())
    _drill(world.chu, 40, clicked=12, reported=3)
    _drill(world.ch, 4, clicked=1, reported=1)

    officer = client_for("regional_officer")
    url = reverse("awareness:observatory")
    page = officer.get(url, {"niveau": "establishment", "annee": year})
    assert page.status_code == 200
    rows = {row.label: row for row in page.context["page"]}
    assert set(rows) == {"CHU A", "CH A", "EHPAD A"}
    assert (rows["CHU A"].people, rows["CHU A"].trained, rows["CHU A"].percent) == (4, 1, 25.0)
    assert (rows["CH A"].trained, rows["CH A"].percent, rows["CH A"].meets_target) == (1, 100.0, True)

    by_group = {row.key: row for row in officer.get(url, {"niveau": "group"}).context["page"]}
    assert (by_group[str(world.group_a.pk)].people, by_group[str(world.group_a.pk)].trained) == (5, 2)
    assert by_group[""].people == 0 and by_group[""].label in ("Outside any group", "Hors GHT")  # the EHPAD
    by_region = {row.label: row for row in officer.get(url, {"niveau": "region"}).context["page"]}
    assert set(by_region) == {"Région A"} and by_region["Région A"].trained == 2

    trend = {row.label: row.percent for row in page.context["trend"]}
    assert trend == {str(year - 1): 100.0, str(year): 40.0}

    drills = {row.label: row for row in page.context["phishing"]}
    assert (drills["CHU A"].click_rate, drills["CHU A"].report_rate) == (30.0, None)  # 3 reports: hidden
    assert (drills["CH A"].click_rate, drills["CH A"].report_rate) == (None, None)  # 4 people targeted
    html = page.content.decode()
    assert "&lt;5" in html and ("30,0" in html or "30.0" in html)

    # An establishment's administrator has its own pages, not the observatory; the
    # administrator of region B sees nothing of region A.
    assert client_for("outsider_admin").get(url).status_code == 404
    assert client_for("establishment_admin").get(url).status_code == 404


def test_care_axis_3_measures_are_in_the_referential_and_answered_from_the_figures(world: Any) -> None:
    from planblanc.readiness import loader

    referential_file = Path(loader.__file__).parent / "data" / "referentials" / "care.yaml"
    data = yaml.safe_load(referential_file.read_text(encoding="utf-8"))
    theme = next(t for t in data["themes"] if t["code"] == "sensibilisation")
    ids = {m["id"] for m in theme["measures"]}
    spec = observatory.care_axis3_spec()
    assert {m["id"] for m in spec["measures"]} <= ids

    year = timezone.localdate().year
    campaign = services.campaign_create(actor=world.establishment_admin, establishment=world.chu, year=year,
                                        title="CaRE", deadline=_deadline())
    answers = {m.id: m.answer for m in observatory.care_axis3(establishment=world.chu, year=year)}
    assert answers == {"SENS-3": "non_fait", "SENS-4": "non_fait", "SENS-5": "non_fait"}
    _pass_all(campaign, world.chu_person)
    _drill(world.chu, 10, clicked=2, reported=6)
    answers = {m.id: m.answer for m in observatory.care_axis3(establishment=world.chu, year=year)}
    assert answers == {"SENS-3": "fait", "SENS-4": "fait", "SENS-5": "fait"}
