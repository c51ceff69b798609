"""Factories of the exercises: an exercise, its injects, expected reactions, criteria
and participants, and a run with its injects, observations, ticks and questionnaire
answers (invented data only)."""

from __future__ import annotations

import factory

from planblanc.exercises.models import (
    EvaluationCriterion,
    Exercise,
    ExerciseRun,
    ExpectedReaction,
    Inject,
    InjectRun,
    Observation,
    Participant,
    QuestionnaireAnswer,
    ReactionCheck,
    TimelineMarker,
)
from tests.support.factories.directory import EstablishmentFactory, PersonFactory


class ExerciseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exercise

    establishment = factory.SubFactory(EstablishmentFactory)
    title = factory.Sequence(lambda n: f"Exercice {n}")


class TimelineMarkerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimelineMarker

    exercise = factory.SubFactory(ExerciseFactory)
    label = "DEBEX PREFECTURE"
    kind = "start"


class InjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Inject

    exercise = factory.SubFactory(ExerciseFactory)
    number = factory.Sequence(lambda n: n + 1)
    subject = factory.Sequence(lambda n: f"Inject {n}")
    content = "Les écrans des urgences affichent une demande de rançon."


class ExpectedReactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExpectedReaction

    inject = factory.SubFactory(InjectFactory)
    description = "Réunir la cellule de crise"


class EvaluationCriterionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EvaluationCriterion

    exercise = factory.SubFactory(ExerciseFactory)
    area = "alert"
    title = factory.Sequence(lambda n: f"Critère {n}")


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    exercise = factory.SubFactory(ExerciseFactory)
    person = factory.SubFactory(PersonFactory)
    role = "player"


class ExerciseRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExerciseRun

    exercise = factory.SubFactory(ExerciseFactory)


class InjectRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InjectRun

    run = factory.SubFactory(ExerciseRunFactory)
    inject = factory.SubFactory(InjectFactory, exercise=factory.SelfAttribute("..run.exercise"))
    idempotency_key = factory.Sequence(lambda n: f"test-inject-run-{n}")


class ObservationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Observation

    run = factory.SubFactory(ExerciseRunFactory)
    text = "La cellule s'est réunie en 12 minutes."
    author_label = "Observatrice"


class ReactionCheckFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReactionCheck

    run = factory.SubFactory(ExerciseRunFactory)
    reaction = factory.SubFactory(ExpectedReactionFactory, inject__exercise=factory.SelfAttribute("...run.exercise"))
    outcome = "done"


class QuestionnaireAnswerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QuestionnaireAnswer

    run = factory.SubFactory(ExerciseRunFactory)
    rating = 4
    realism = 3
