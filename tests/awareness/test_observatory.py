"""The observatory's awareness table: the share of staff trained this year per category
(or region), against the target, within the viewer's scope only."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from planblanc.awareness import services
from planblanc.awareness.models import Assignment
from tests.factories import MembershipFactory, PersonFactory

pytestmark = pytest.mark.django_db


def test_the_regional_observatory_shows_the_share_of_staff_trained(world: Any, client_for: Any) -> None:
    today = timezone.localdate()
    for person in (PersonFactory(), PersonFactory(), PersonFactory()):
        MembershipFactory(person=person, establishment=world.chu)
    campaign = services.campaign_create(actor=world.establishment_admin, establishment=world.chu, year=today.year,
                                        title="Sensibilisation", deadline=today + datetime.timedelta(days=20))
    trained = world.chu_person
    learner = services.Learner(campaign=campaign, person=trained)
    for assignment in Assignment.objects.filter(campaign=campaign, person=trained):
        right = {q.id: {i for i, a in enumerate(q.answers) if a.correct}
                 for q in services.quiz_questions(assignment=assignment)}
        services.quiz_submit(learner=learner, assignment=assignment, answers=right)
    # A campaign of the other region, which the regional officer must not count.
    services.campaign_create(actor=world.outsider_admin, establishment=world.clinic, year=today.year,
                             title="Clinique", deadline=today + datetime.timedelta(days=20))

    response = client_for("regional_officer").get(reverse("readiness:observatory_region", args=[world.region_a.pk]))
    assert response.status_code == 200
    table = response.context["dashboard"].tables["awareness"]
    assert not table.unavailable
    (row,) = table.rows
    staff, done, share, target = (cell.value for cell in row.cells)
    assert (staff, done, share) == (4, 1, 25.0)
    assert target == 90
