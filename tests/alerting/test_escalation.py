"""Escalation: levels called in turn with their waits and repeats, stopped by an
acknowledgement, the policy snapshotted at the start, a step taken once even by
several workers, and exact resumption after a crash."""

from __future__ import annotations

import os
import threading
from datetime import date, time, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone, translation

from planblanc.accounts.models import AuditEntry
from planblanc.alerting.escalation import (
    LevelInput,
    escalation_start,
    escalation_step,
    escalations_process,
    policy_create,
)
from planblanc.alerting.models import (
    Delivery,
    Escalation,
    EscalationLevel,
    EscalationStatus,
    EscalationStep,
)
from planblanc.alerting.oncall import rotation_create
from planblanc.alerting.services import acknowledgement_record, deliveries_process
from tests.factories import MembershipFactory, PersonFactory

MINUTE = timedelta(minutes=1)


def _people(world: Any, names: list[str]) -> list[Any]:
    return [
        MembershipFactory(
            establishment=world.chu, person=PersonFactory(last_name=name, email=f"{name.lower()}@chu.example"),
        ).person
        for name in names
    ]


def _policy(world: Any, smtp: Any, settings: Any) -> tuple[Any, dict[str, Any]]:
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    a, b, c, d = _people(world, ["Alpha", "Bravo", "Charlie", "Delta"])
    rotation = rotation_create(
        actor=world.establishment_admin, establishment=world.chu, name="Astreinte", period="weekly",
        handoff_time=time(8), starts_on=date(2020, 1, 6), members=[b],
    )
    policy = policy_create(
        actor=world.establishment_admin, establishment=world.chu, name="Cyber", channels=["email"],
        levels=[
            LevelInput(kind="person", person=a, wait_seconds=300, repeats=1),
            LevelInput(kind="rotation", rotation=rotation, wait_seconds=600),
            LevelInput(kind="group", people=[c, d], wait_seconds=300),
        ],
    )
    return policy, {"a": a, "b": b, "c": c, "d": d}


def _received(smtp: Any) -> dict[str, int]:
    return dict(smtp.recorder.count_by_rcpt())


def _run(now: Any) -> int:
    taken = escalations_process(worker_id="w1", now=now)
    deliveries_process(worker_id="w1")
    return taken


@pytest.mark.django_db
def test_it_calls_each_level_in_turn_with_its_waits_and_repeats(world, smtp, settings):
    policy, _p = _policy(world, smtp, settings)
    escalation = escalation_start(actor=world.establishment_admin, policy=policy, title="Rançongiciel",
                                  message="Appelez la cellule.")
    t0 = escalation.next_step_due_at
    assert _run(t0) == 1
    assert _received(smtp) == {"alpha@chu.example": 1}
    assert _run(t0 + 4 * MINUTE) == 0  # still waiting for an acknowledgement
    assert _run(t0 + 5 * MINUTE) == 1  # level 1 repeats once
    assert _received(smtp) == {"alpha@chu.example": 2}
    assert _run(t0 + 10 * MINUTE) == 1  # level 2: whoever is on call
    assert _received(smtp) == {"alpha@chu.example": 2, "bravo@chu.example": 1}
    assert _run(t0 + 15 * MINUTE) == 0  # level 2 waits 10 minutes
    assert _run(t0 + 20 * MINUTE) == 1  # level 3: the group
    assert _received(smtp) == {"alpha@chu.example": 2, "bravo@chu.example": 1, "charlie@chu.example": 1,
                               "delta@chu.example": 1}
    assert _run(t0 + 25 * MINUTE) == 1  # nobody left: exhausted
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.EXHAUSTED and escalation.next_step_due_at is None
    steps = list(escalation.steps.values_list("seq", "level", "repeat"))
    assert steps == [(0, 0, 0), (1, 0, 1), (2, 1, 0), (3, 2, 0)]
    assert AuditEntry.objects.filter(action="alerting.escalation_exhausted", object_id=str(escalation.pk)).exists()


@pytest.mark.django_db
def test_it_counts_every_level_from_the_alert_start_so_a_late_one_delays_none_after_it(world, smtp, settings):
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    a, b, c = _people(world, ["Alpha", "Bravo", "Charlie"])
    policy = policy_create(
        actor=world.establishment_admin, establishment=world.chu, name="Rapide", channels=["email"],
        levels=[
            LevelInput(kind="person", person=a, wait_seconds=60),
            LevelInput(kind="person", person=b, wait_seconds=45),
            LevelInput(kind="person", person=c, wait_seconds=30),
        ],
    )
    escalation = escalation_start(actor=world.establishment_admin, policy=policy, title="Alerte", message="Venez.")
    t0 = escalation.next_step_due_at
    assert _run(t0) == 1
    # The workers are down until +92 s: level 2 (due at +60 s) goes out late…
    assert _run(t0 + timedelta(seconds=59)) == 0
    assert _run(t0 + timedelta(seconds=92)) == 1
    escalation.refresh_from_db()
    # …but level 3 stays due at +60 + 45 = +105 s, not 92 + 45.
    assert escalation.next_step_due_at == t0 + timedelta(seconds=105)
    assert _run(t0 + timedelta(seconds=104)) == 0
    assert _run(t0 + timedelta(seconds=105)) == 1
    assert _received(smtp) == {"alpha@chu.example": 1, "bravo@chu.example": 1, "charlie@chu.example": 1}
    steps = list(escalation.steps.order_by("seq").values_list("due_at", "taken_at"))
    assert [due - t0 for due, _taken in steps] == [timedelta(0), timedelta(seconds=60), timedelta(seconds=105)]
    assert steps[1][1] - t0 == timedelta(seconds=92)


@pytest.mark.django_db
def test_it_reads_waits_in_minutes_from_alerts_started_before_waits_were_seconds(world, smtp, settings):
    policy, _p = _policy(world, smtp, settings)
    escalation = escalation_start(actor=world.establishment_admin, policy=policy, title="Alerte", message="Venez.")
    snapshot = escalation.policy_snapshot
    for level in snapshot["levels"]:
        level["wait_minutes"] = level.pop("wait_seconds") // 60
    Escalation.objects.filter(pk=escalation.pk).update(policy_snapshot=snapshot)
    t0 = escalation.next_step_due_at
    assert _run(t0) == 1
    assert _run(t0 + 4 * MINUTE) == 0
    assert _run(t0 + 5 * MINUTE) == 1


@pytest.mark.django_db
def test_it_stops_when_someone_acknowledges(world, smtp, settings):
    policy, _p = _policy(world, smtp, settings)
    escalation = escalation_start(actor=world.establishment_admin, policy=policy, title="Alerte", message="Venez.")
    t0 = escalation.next_step_due_at
    _run(t0)
    delivery = Delivery.objects.get(campaign=escalation.steps.get().campaign)
    acknowledgement_record(delivery=delivery, via="link")
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.ACKNOWLEDGED
    assert escalation.acknowledged_by == delivery.recipient.name
    assert _run(t0 + 60 * MINUTE) == 0
    assert _received(smtp) == {"alpha@chu.example": 1}


@pytest.mark.django_db
def test_it_keeps_the_policy_as_it_was_when_the_alert_started(world, smtp, settings):
    policy, people = _policy(world, smtp, settings)
    escalation = escalation_start(actor=world.establishment_admin, policy=policy, title="Alerte", message="Venez.")
    assert escalation.policy_snapshot["levels"][0] == {
        "kind": "person", "person": people["a"].pk, "rotation": None, "people": [], "wait_seconds": 300, "repeats": 1,
    }
    EscalationLevel.objects.filter(policy=policy, position=0).update(person=people["d"], repeats=0)
    _run(escalation.next_step_due_at)
    assert _received(smtp) == {"alpha@chu.example": 1}


@pytest.mark.django_db
@translation.override("en")  # the assertions read the English messages
def test_it_refuses_bad_policies_and_outsiders(world, smtp, settings):
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    with pytest.raises(ValidationError) as exc:
        policy_create(actor=world.establishment_admin, establishment=world.chu, name="", channels=["pigeon"],
                      levels=[LevelInput(kind="person"), LevelInput(kind="group")])
    errors = exc.value.message_dict
    assert set(errors) == {"name", "channels", "levels"}
    assert errors["levels"] == ["Level 1: choose the person.", "Level 2: choose the people of the group."]
    with pytest.raises(PermissionDenied):
        policy_create(actor=world.outsider_admin, establishment=world.chu, name="X", channels=["email"],
                      levels=[LevelInput(kind="person", person=world.chu_person)])
    policy, _p = _policy(world, smtp, settings)
    with pytest.raises(PermissionDenied):
        escalation_start(actor=world.outsider_admin, policy=policy, title="X", message="Y")
    with pytest.raises(ValidationError):
        escalation_start(actor=world.establishment_admin, policy=policy, title="X", message="Bonjour {nom}")
    assert not Escalation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_resumes_exactly_at_the_right_level_after_a_crash(world, smtp, settings):
    policy, _p = _policy(world, smtp, settings)
    escalation = escalation_start(actor=world.establishment_admin, policy=policy, title="Alerte", message="Venez.")
    t0 = escalation.next_step_due_at
    _run(t0)
    _run(t0 + 5 * MINUTE)  # level 1, second call

    class Crash(Exception):
        pass

    # A worker takes level 2's step and dies before its commit.
    with pytest.raises(Crash), transaction.atomic():
        assert escalation_step(escalation_id=escalation.pk, worker_id="dying", now=t0 + 10 * MINUTE)
        raise Crash
    connection.close()  # the next worker starts on a fresh connection

    escalation.refresh_from_db()
    assert (escalation.level, escalation.repeat, escalation.step_seq) == (1, 0, 2)
    assert not EscalationStep.objects.filter(worker="dying").exists()
    assert _run(t0 + 10 * MINUTE) == 1
    # And a worker that died after its commit left a step that nobody takes again.
    connection.close()
    assert _run(t0 + 10 * MINUTE) == 0
    assert _received(smtp) == {"alpha@chu.example": 2, "bravo@chu.example": 1}
    escalation.refresh_from_db()
    assert (escalation.level, escalation.repeat, escalation.step_seq) == (2, 0, 3)
    assert escalation.next_step_due_at == t0 + 20 * MINUTE


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="concurrent workers need a server database (DATABASE_URL=postgres://…)",
)
@pytest.mark.django_db(transaction=True)
def test_it_never_lets_two_workers_take_the_same_step(world, smtp, settings):
    policy, _p = _policy(world, smtp, settings)
    escalations = [
        escalation_start(actor=world.establishment_admin, policy=policy, title=f"Alerte {i}", message="Venez.")
        for i in range(30)
    ]
    now = timezone.now() + MINUTE
    barrier = threading.Barrier(6)
    taken: list[int] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            taken.append(escalations_process(worker_id=f"w{n}", now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(taken) == 30
    assert EscalationStep.objects.count() == 30
    assert all(e.steps.count() == 1 for e in escalations)


@pytest.mark.django_db
def test_it_creates_a_policy_starts_an_alert_and_shows_its_state(world, smtp, settings, client_for):
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    a = _people(world, ["Alpha"])[0]
    client = client_for("establishment_admin")
    response = client.post(reverse("alerting:policy_new"), {
        "establishment": world.chu.pk, "name": "Direction", "channels": ["email"],
        "level1_kind": "person", "level1_person": a.pk, "level1_wait": 45, "level1_repeats": 0,
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = world.chu.escalation_policies.get()
    assert policy.levels.get().wait_seconds == 45
    response = client.post(reverse("alerting:escalation_new"), {
        "policy": policy.pk, "title": "Panne du SIH", "message": "Rejoignez la cellule.", "is_exercise": "on",
    })
    assert response.status_code == 302
    escalation = Escalation.objects.get()
    assert escalation.is_exercise and escalation.policy_snapshot["name"] == "Direction"
    _run(escalation.next_step_due_at)
    state = client.get(reverse("alerting:escalation_state", args=[escalation.pk]))
    assert state.status_code == 200 and "Panne du SIH" in state.content.decode()
    page = client_for("crisis_member").get(reverse("alerting:escalation_detail", args=[escalation.pk]))
    assert page.status_code == 200 and "EXERCICE EXERCICE EXERCICE" in page.content.decode()
    # A read-only auditor may watch, not acknowledge; a member of the cell may.
    assert client_for("auditor").post(reverse("alerting:escalation_detail", args=[escalation.pk]),
                                      {"action": "acknowledge"}).status_code == 403
    assert Escalation.objects.get().status == EscalationStatus.ACTIVE
    client_for("crisis_member").post(reverse("alerting:escalation_detail", args=[escalation.pk]),
                                     {"action": "acknowledge"})
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.ACKNOWLEDGED
    outsider = client_for("outsider_admin")
    assert outsider.get(reverse("alerting:escalation_detail", args=[escalation.pk])).status_code == 404
    assert outsider.get(reverse("alerting:escalation_state", args=[escalation.pk])).status_code == 404
    assert "Panne du SIH" not in outsider.get(reverse("alerting:escalation_list")).content.decode()
