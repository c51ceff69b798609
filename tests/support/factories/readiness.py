"""Factories of the readiness: a referential with its themes, measures and answer scale,
an establishment's assessment with answers, evidence and daily snapshots, its actions
and governance records (invented data only)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from planblanc.readiness.models import (
    Action,
    Answer,
    AnswerLevel,
    AnswerScale,
    Assessment,
    AssessmentSnapshot,
    Evidence,
    GovernanceRecord,
    Measure,
    Referential,
    Theme,
)
from tests.support.factories.directory import EstablishmentFactory


class ReferentialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Referential

    slug = factory.Sequence(lambda n: f"referentiel-{n}")
    version = "1"
    name = factory.Sequence(lambda n: f"Référentiel {n}")
    origin = "planblanc"


class ThemeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Theme

    referential = factory.SubFactory(ReferentialFactory)
    code = factory.Sequence(lambda n: f"T{n}")
    title = factory.Sequence(lambda n: f"Thème {n}")


class MeasureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Measure

    theme = factory.SubFactory(ThemeFactory)
    referential = factory.SelfAttribute("theme.referential")
    ref_id = factory.Sequence(lambda n: f"M{n}")
    title = factory.Sequence(lambda n: f"Mesure {n}")


class AnswerScaleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AnswerScale

    referential = factory.SubFactory(ReferentialFactory)


class AnswerLevelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AnswerLevel

    scale = factory.SubFactory(AnswerScaleFactory)
    code = factory.Sequence(lambda n: f"niveau{n}")
    label = "Oui"
    value = Decimal(1)


class AssessmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assessment

    establishment = factory.SubFactory(EstablishmentFactory)
    referential = factory.SubFactory(ReferentialFactory)


class AnswerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Answer

    assessment = factory.SubFactory(AssessmentFactory)
    measure = factory.SubFactory(MeasureFactory, theme__referential=factory.SelfAttribute("...assessment.referential"))
    level = None  # pass an AnswerLevelFactory of the referential's scale (one scale per referential)
    answered_at = factory.LazyFunction(timezone.now)
    answered_by_label = "RSSI"


class EvidenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Evidence

    assessment = factory.SubFactory(AssessmentFactory)
    measure = factory.SubFactory(MeasureFactory, theme__referential=factory.SelfAttribute("...assessment.referential"))
    title = "Procès-verbal du test de restauration"
    url = "https://intranet.hopital.example/preuve"


class AssessmentSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AssessmentSnapshot

    assessment = factory.SubFactory(AssessmentFactory)
    day = factory.Sequence(lambda n: datetime.date(2026, 1, 1) + datetime.timedelta(days=n))
    score = Decimal("50.00")


class ActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Action

    establishment = factory.SubFactory(EstablishmentFactory)
    title = factory.Sequence(lambda n: f"Action {n}")


class GovernanceRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GovernanceRecord

    establishment = factory.SubFactory(EstablishmentFactory)
    year = factory.Sequence(lambda n: 2000 + n % 100)
