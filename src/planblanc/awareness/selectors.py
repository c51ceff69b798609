"""Reads of the awareness app: progress of a campaign by department and audience,
the learner's modules, the share of staff trained in a year."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, F, Q, QuerySet, Sum

from planblanc.awareness.audiences import Audience
from planblanc.awareness.models import Assignment, Campaign, CampaignLaunch


@dataclass(frozen=True)
class ProgressRow:
    label: str
    people: int
    trained: int

    @property
    def percent(self) -> int:
        return round(100 * self.trained / self.people) if self.people else 0


def _per_person(assignments: Iterable[tuple[int, int | None, list[str], bool]]) -> dict[int, tuple[int | None, list[str], bool]]:
    """A person is trained when every module assigned to them is completed."""
    people: dict[int, tuple[int | None, list[str], bool]] = {}
    for person_id, department_id, audiences, done in assignments:
        _dept, _aud, all_done = people.get(person_id, (department_id, audiences, True))
        people[person_id] = (department_id, audiences, all_done and done)
    return people


def campaign_progress(
    *, campaign: Campaign, departments: frozenset[int] | None = None
) -> tuple[list[ProgressRow], list[ProgressRow]]:
    """(by department, by audience). `departments`: None for all, or only these."""
    rows = Assignment.objects.filter(campaign=campaign)
    if departments is not None:
        rows = rows.filter(department_id__in=departments)
    people = _per_person(
        (person_id, department_id, audiences, completed_at is not None)
        for person_id, department_id, audiences, completed_at in rows.values_list(
            "person_id", "department_id", "audiences", "completed_at")
    )
    names = dict(campaign.establishment.departments.values_list("pk", "name"))
    by_department: dict[int | None, list[int]] = {}
    by_audience: dict[str, list[int]] = {}
    for department_id, audiences, done in people.values():
        counts = by_department.setdefault(department_id, [0, 0])
        counts[0] += 1
        counts[1] += done
        for audience in audiences:
            counts = by_audience.setdefault(audience, [0, 0])
            counts[0] += 1
            counts[1] += done
    departments_rows = sorted(
        (ProgressRow(label=names.get(k, "") if k else "—", people=v[0], trained=v[1])
         for k, v in by_department.items()),
        key=lambda row: row.label,
    )
    labels = dict(Audience.choices)
    audience_rows = [
        ProgressRow(label=str(labels[code]), people=by_audience[code][0], trained=by_audience[code][1])
        for code in Audience.values if code in by_audience
    ]
    return departments_rows, audience_rows


def learner_assignments(*, campaign: Campaign, person_id: int) -> list[Assignment]:
    return list(Assignment.objects.filter(campaign=campaign, person_id=person_id))


def trained_share(*, establishment_ids: Iterable[int], year: int) -> dict[int, tuple[int, int]]:
    """{establishment id: (people assigned, people who completed every module)} for a year."""
    counts = (
        Assignment.objects.filter(campaign__establishment_id__in=list(establishment_ids), campaign__year=year)
        .order_by()
        .values("campaign__establishment_id", "person_id")
        .annotate(total=Count("pk"), done=Count("pk", filter=Q(completed_at__isnull=False)))
    )
    out: dict[int, list[int]] = {}
    for row in counts:
        entry = out.setdefault(row["campaign__establishment_id"], [0, 0])
        entry[0] += 1
        entry[1] += row["total"] == row["done"]
    return {key: (value[0], value[1]) for key, value in out.items()}


def launches_with_progress() -> QuerySet[CampaignLaunch]:
    """Launches, newest first, with their people and trained totals and the campaigns
    invited in the current round (`invite_done`: campaigns up to the invitation cursor)."""
    return CampaignLaunch.objects.select_related("group", "region").annotate(
        people_total=Sum("campaigns__people"), trained_total=Sum("campaigns__trained"),
        invite_done=Count("campaigns", filter=Q(campaigns__pk__lte=F("invite_cursor"))),
    ).order_by("-created_at", "-pk")
