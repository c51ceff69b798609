from __future__ import annotations

import datetime
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from planblanc.accounts.models import AuditEntry
from planblanc.alerting.models import Campaign
from planblanc.crisis.models import Crisis, CrisisStatus, LogbookTimestamp
from planblanc.exercises import run as run_services
from planblanc.exercises.models import (
    ExerciseRun,
    ExerciseStatus,
    InjectRun,
    InjectState,
    RunStatus,
)
from tests.exercises.runkit import exercise_with_people, now, play
from tests.support.concurrency import run_together
from tests.support.smtp import SmtpServer
from tests.support.tsa import LocalTimestampAuthority

pytestmark = pytest.mark.usefixtures("english_messages")


T = datetime.timedelta


@pytest.fixture
def logbook_guards_allow_flush(transactional_db: Any) -> Any:
    """Transactional tests write the exercise crisis's logbook, whose triggers refuse
    the final wipe of the tables."""
    from planblanc.crisis.db_guards import purge_logbook_for_tests

    yield
    ExerciseRun.objects.all().delete()
    purge_logbook_for_tests(connection)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def test_it_refuses_to_start_without_an_animator(world: Any) -> None:
    setup = exercise_with_people(world, animator=False)
    with pytest.raises(ValidationError, match="animator"):
        run_services.run_start(actor=world.exercise_animator, exercise=setup.exercise)
    assert not ExerciseRun.objects.exists()
    assert not Crisis.objects.filter(is_exercise=True).exists()
    setup.exercise.refresh_from_db()
    assert setup.exercise.status != ExerciseStatus.RUNNING


def test_it_refuses_to_start_for_someone_without_the_right(world: Any) -> None:
    setup = exercise_with_people(world)
    for persona in ("crisis_member", "auditor", "outsider_admin"):
        with pytest.raises(PermissionDenied):
            run_services.run_start(actor=world.users[persona], exercise=setup.exercise)
    assert not ExerciseRun.objects.exists()


def test_it_starts_with_an_exercise_crisis_out_of_statistics_and_refuses_a_second_start(world: Any) -> None:
    setup = exercise_with_people(world)
    run = run_services.run_start(actor=world.exercise_animator, exercise=setup.exercise, speed=10)
    assert run.crisis.is_exercise and run.crisis.status == CrisisStatus.ACTIVE
    assert run.injects.count() == setup.exercise.injects.count() == 12
    assert set(run.injects.values_list("state", flat=True)) == {InjectState.PENDING}
    from planblanc.crisis.selectors import crisis_statistics

    stats = crisis_statistics(user=world.national_admin)
    assert "[EXERCICE]" in str(run.crisis)
    assert stats == crisis_statistics(user=world.national_admin, include_exercises=False)
    with pytest.raises(ValidationError, match="already"):
        run_services.run_start(actor=world.exercise_animator, exercise=setup.exercise)
    assert AuditEntry.objects.filter(action="exercise.run_start").count() == 1



def test_it_closes_the_exercise_crisis_through_the_crisis_service_audited_and_timestamped(
    world: Any, settings: Any, django_capture_on_commit_callbacks: Any,
) -> None:
    setup = exercise_with_people(world)
    run = run_services.run_start(actor=world.exercise_animator, exercise=setup.exercise)
    assert AuditEntry.objects.filter(action="crisis.declare", object_id=str(run.crisis_id),
                                     actor=world.exercise_animator).exists()
    with LocalTimestampAuthority() as authority:
        settings.PLANBLANC_TSA_URL = authority.url
        with django_capture_on_commit_callbacks(execute=True):
            run_services.run_finish(actor=world.exercise_animator, run=run)
    crisis = Crisis.objects.get(pk=run.crisis_id)
    assert crisis.status == CrisisStatus.CLOSED and crisis.closed_at is not None
    assert crisis.closed_by_label == world.exercise_animator.get_username()
    close = AuditEntry.objects.get(action="crisis.close", object_id=str(crisis.pk))
    assert close.actor == world.exercise_animator and close.changes["entries"] == crisis.head_seq
    assert crisis.entries.order_by("-seq").first().text == "EXERCISE. End of the exercise."
    # The final head of the logbook went to the timestamping authority once committed.
    stamp = LogbookTimestamp.objects.get(crisis=crisis)
    assert len(authority.queries) == 1 and stamp.seq == crisis.head_seq and stamp.entry_hash == crisis.head_hash

def test_it_keeps_the_simulated_clock_right_through_pause_resume_and_speed(world: Any) -> None:
    setup = exercise_with_people(world)
    t0 = now()
    actor = world.exercise_animator
    run = run_services.run_start(actor=actor, exercise=setup.exercise, speed=2, now=t0)
    assert run.simulated_seconds(t0 + T(seconds=30)) == 60  # ×2
    run = run_services.run_pause(actor=actor, run=run, now=t0 + T(seconds=30))
    assert run.simulated_seconds(t0 + T(seconds=500)) == 60  # frozen while paused
    run = run_services.run_resume(actor=actor, run=run, now=t0 + T(seconds=90))
    assert run.simulated_seconds(t0 + T(seconds=100)) == 60 + 20
    run = run_services.run_set_speed(actor=actor, run=run, speed=10, now=t0 + T(seconds=100))
    # Continuous at the change, ×10 after it.
    assert run.simulated_seconds(t0 + T(seconds=100)) == 80
    assert run.simulated_seconds(t0 + T(seconds=110)) == 80 + 100
    run.refresh_from_db()
    assert run.paused_seconds(t0 + T(seconds=110)) == 60
    # The same as start + (real elapsed − paused) × speed for each stretch.
    assert run.simulated_seconds(t0 + T(seconds=110)) == (30 - 0) * 2 + (100 - 90) * 2 + (110 - 100) * 10
    assert run.simulated_time(t0 + T(seconds=110)) == t0 + T(seconds=180)
    with pytest.raises(ValidationError):
        run_services.run_set_speed(actor=actor, run=run, speed=11)
    with pytest.raises(ValidationError):
        run_services.run_resume(actor=actor, run=run)


def test_it_fires_due_injects_only_and_respects_dependencies(world: Any) -> None:
    setup = exercise_with_people(world)
    t0 = now()
    run = run_services.run_start(actor=world.exercise_animator, exercise=setup.exercise, speed=10, now=t0)
    rows = {r.inject.number: r for r in run.injects.select_related("inject")}
    # 60 real seconds at ×10: ten simulated minutes.
    run_services.runs_process(now=t0 + T(seconds=60))
    expected = {n for n, r in rows.items() if r.due_seconds is not None and r.due_seconds <= 600
                and not r.inject.dependencies.exists()}
    assert expected and len(expected) < len(rows)
    fired = set(run.injects.filter(state=InjectState.SENT).values_list("inject__number", flat=True))
    assert fired == expected
    # Far past every due time: what waits for a dependency not handled stays pending.
    run_services.runs_process(now=t0 + T(hours=2))
    waiting = {r.inject.number for r in run.injects.filter(state=InjectState.PENDING).select_related("inject")}
    assert waiting, "the kit has dependencies: something must wait"
    for number in waiting:
        deps = rows[number].inject.dependencies.all()
        assert any(InjectRun.objects.get(run=run, inject=d).state != InjectState.TAKEN for d in deps)
    # Handle what was sent: the waiting ones follow.
    play(run, start=t0 + T(hours=2), actor=world.exercise_animator)
    assert not run.injects.filter(state=InjectState.PENDING).exists()
    for row in run.injects.select_related("inject"):
        for dependency in row.inject.dependencies.all():
            before = InjectRun.objects.get(run=run, inject=dependency)
            assert before.taken_at is not None and before.taken_at <= row.fired_at


def test_it_never_fires_an_inject_twice(world: Any) -> None:
    setup = exercise_with_people(world)
    t0 = now()
    run = run_services.run_start(actor=world.exercise_animator, exercise=setup.exercise, speed=10, now=t0)
    row = run.injects.select_related("inject").order_by("due_seconds").first()
    assert run_services.inject_fire(actor=world.exercise_animator, row=row)
    assert not run_services.inject_fire(actor=world.exercise_animator, row=row)
    run_services.runs_process(now=t0 + T(hours=3))
    run_services.runs_process(now=t0 + T(hours=3))
    assert AuditEntry.objects.filter(action="exercise.inject_fire", object_id=str(row.inject.pk)).count() == 1
    campaigns = Campaign.objects.filter(title__startswith=f"#{row.inject.number} ")
    assert campaigns.count() <= 1


def test_it_skips_and_excludes_only_what_is_allowed(world: Any) -> None:
    setup = exercise_with_people(world)
    actor = world.exercise_animator
    run = run_services.run_start(actor=actor, exercise=setup.exercise)
    first, second = list(run.injects.select_related("inject").order_by("inject__number"))[:2]
    run_services.inject_skip(actor=actor, row=first, note="trop tôt")
    assert first.state == InjectState.SKIPPED and first.note == "trop tôt"
    assert not run_services.inject_fire(actor=actor, row=first)
    run_services.inject_fire(actor=actor, row=second)
    with pytest.raises(ValidationError):
        run_services.inject_skip(actor=actor, row=second)
    run_services.inject_exclude(actor=actor, row=second)
    assert InjectRun.objects.get(pk=second.pk).state == InjectState.EXCLUDED
    with pytest.raises(PermissionDenied):
        run_services.inject_skip(actor=world.outsider_admin, row=second)


@pytest.mark.parametrize("kit_slug", ["debutant-rancongiciel", "intermediaire-exfiltration", "confirme-multisite"])
def test_it_runs_each_kit_end_to_end_with_emails_received(world: Any, smtp: Any, settings: Any, kit_slug: str) -> None:
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    setup = exercise_with_people(world, kit_slug)
    t0 = now()
    run = run_services.run_start(actor=world.exercise_animator, exercise=setup.exercise, speed=10, now=t0)
    end = play(run, start=t0, step_seconds=20, actor=world.exercise_animator)
    assert not run.injects.filter(state=InjectState.PENDING).exists()
    run = run_services.run_finish(actor=world.exercise_animator, run=run, now=end)
    assert run.status == RunStatus.FINISHED
    email_injects = run.injects.filter(inject__channel="email").select_related("inject")
    assert email_injects.exists()
    subjects = [r.subject for r in smtp.recorder.received]
    for row in email_injects:
        assert any(f"#{row.inject.number} " in subject for subject in subjects), row.inject.number
    assert all("EXERCICE" in subject for subject in subjects)
    # Each email inject left once, to the players of its cell.
    assert len(subjects) == len([s for s in subjects if s]) and len(set(zip(subjects, [r.rcpt for r in smtp.recorder.received], strict=True))) == len(subjects)
    run.crisis.refresh_from_db()
    assert run.crisis.status == CrisisStatus.CLOSED
    from planblanc.exercises import report

    pdf = report.report_pdf(actor=world.exercise_animator, run=run)
    from io import BytesIO

    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)
    assert setup.exercise.title[:20] in text.replace("\n", " ")


@pytest.mark.django_db(transaction=True)
def test_it_resumes_after_a_crash_in_a_fresh_process(world: Any, logbook_guards_allow_flush: Any) -> None:
    """On PostgreSQL the worker step runs in a new Python process on the test database;
    on SQLite (pytest's database lives in memory) in a new connection, with nothing of
    the first run kept in memory."""
    setup = exercise_with_people(world)
    for inject in setup.exercise.injects.all():
        inject.dependencies.clear()
    t0 = now() - T(minutes=20)  # 20 real minutes at ×10: 200 simulated minutes, all due
    run = run_services.run_start(actor=world.exercise_animator, exercise=setup.exercise, speed=10, now=t0)
    # Before the crash, the first injects left.
    run_services.runs_process(now=t0 + T(seconds=60))
    sent_before = set(run.injects.exclude(state=InjectState.PENDING).values_list("inject_id", flat=True))
    assert sent_before and len(sent_before) < run.injects.count()
    run_pk = run.pk
    del run
    connection.close()
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        url = f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
        script = ("import django; django.setup(); from planblanc.exercises.run import runs_process;"
                  " print(runs_process())")
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "planblanc.settings"},
        )
        assert out.returncode == 0, out.stderr[-3000:]
        fired_after = int(out.stdout.strip().splitlines()[-1])
    else:
        fired_after = run_services.runs_process()
    run = ExerciseRun.objects.get(pk=run_pk)
    assert run.status == RunStatus.RUNNING
    assert fired_after == run.injects.count() - len(sent_before)
    assert not run.injects.filter(state=InjectState.PENDING).exists()
    for inject_id in run.injects.values_list("inject_id", flat=True):
        assert AuditEntry.objects.filter(action="exercise.inject_fire", object_id=str(inject_id)).count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_never_fires_twice_with_two_concurrent_workers_on_postgresql(
    world: Any, logbook_guards_allow_flush: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent UPDATEs need PostgreSQL")
    setup = exercise_with_people(world)
    # Nothing waits for anything here: every inject is due at once.
    for inject in setup.exercise.injects.all():
        inject.dependencies.clear()
    t0 = now() - T(hours=3)
    run = run_services.run_start(actor=world.exercise_animator, exercise=setup.exercise, speed=10, now=t0)
    counts = run_together(run_services.runs_process, workers=4)
    total = run.injects.count()
    assert sum(counts) == total
    assert run.injects.filter(state=InjectState.SENT).count() == total
    assert AuditEntry.objects.filter(action="exercise.inject_fire").count() == total


def test_it_runs_as_a_task_and_queues_its_next_wake_up_while_a_run_is_live(world: Any) -> None:
    from django_tasks_db.models import DBTaskResult

    setup = exercise_with_people(world)
    t0 = now() - T(hours=3)
    run = run_services.run_start(actor=world.exercise_animator, exercise=setup.exercise, speed=10, now=t0)
    DBTaskResult.objects.all().delete()
    sent = run_services.exercise_runs_process.call()
    assert sent == run.injects.filter(state=InjectState.SENT).count() > 0
    queued = DBTaskResult.objects.filter(task_path__endswith="exercise_runs_process", status="READY")
    assert queued.count() == 1
    # Asking again does not pile up wake-ups.
    run_services.wake_run_worker_if_live()
    assert queued.count() == 1
    run_services.run_finish(actor=world.exercise_animator, run=run)
    DBTaskResult.objects.all().delete()
    run_services.exercise_runs_process.call()
    run_services.wake_run_worker_if_live()
    assert not DBTaskResult.objects.exists()
