"""Shared set-up for the live-run tests: an exercise from a kit with an animator, an
observer and players of the kit's cells, and a test clock that plays the run."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from planblanc.alerting.services import deliveries_process
from planblanc.exercises import run as run_services
from planblanc.exercises import services
from planblanc.exercises.models import Exercise, ExerciseRun, InjectRun, InjectState
from tests.factories import MembershipFactory, PersonFactory, UserFactory


@dataclass
class Setup:
    exercise: Exercise
    players: list[Any]
    observer_user: Any
    player_user: Any
    animator_user: Any
    extra: dict[str, Any] = field(default_factory=dict)


def person_in(establishment: Any, **fields: Any) -> Any:
    return MembershipFactory(establishment=establishment, person=PersonFactory(**fields)).person


def exercise_with_people(world: Any, kit_slug: str = "debutant-rancongiciel", *, animator: bool = True) -> Setup:
    actor = world.exercise_animator
    exercise = services.exercise_create_from_kit(actor=actor, establishment=world.chu, kit_slug=kit_slug)
    cells = sorted({i.target_cell for i in exercise.injects.all() if i.target_cell}) or [""]
    players = []
    for index, cell in enumerate(cells):
        person = person_in(world.chu, first_name="Joueur", last_name=f"Cellule{index}",
                           email=f"joueur{index}@chu-a.example")
        services.participant_add(actor=actor, exercise=exercise, person=person, role="player", cell=cell)
        players.append(person)
    player_user = UserFactory(username="joueur0")
    players[0].user = player_user
    players[0].save()
    observer = person_in(world.chu, first_name="Olga", last_name="Observatrice", email="obs@chu-a.example")
    observer_user = UserFactory(username="observatrice")
    observer.user = observer_user
    observer.save()
    services.participant_add(actor=actor, exercise=exercise, person=observer, role="observer")
    animator_person = person_in(world.chu, first_name="Anne", last_name="Animatrice", email="anim@chu-a.example")
    animator_person.user = actor
    animator_person.save()
    if animator:
        services.participant_add(actor=actor, exercise=exercise, person=animator_person, role="animator")
    return Setup(exercise=exercise, players=players, observer_user=observer_user, player_user=player_user,
                 animator_user=actor)


def play(run: ExerciseRun, *, start: datetime.datetime, step_seconds: float = 15, take_in_hand: bool = True,
         actor: Any = None, limit_seconds: float = 6 * 3600) -> datetime.datetime:
    """Advance the test clock step by step (real seconds), run the worker step at each,
    send the queued emails and, like players would, take each inject received in hand."""
    now = start
    while (now - start).total_seconds() < limit_seconds:
        now = now + datetime.timedelta(seconds=step_seconds)
        run_services.runs_process(now=now)
        deliveries_process(worker_id="test")
        if take_in_hand:
            for row in InjectRun.objects.filter(run=run, state=InjectState.SENT).select_related("run__exercise"):
                run_services.inject_take_in_hand(actor=actor, row=row, now=now)
        if not InjectRun.objects.filter(run=run, state=InjectState.PENDING).exists():
            break
    return now


def now() -> datetime.datetime:
    return timezone.now().replace(microsecond=0)
