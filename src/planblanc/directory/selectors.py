"""Reads of the directory, always within the user's scope."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from planblanc.directory.models import Department, Establishment, Group, Membership, Person, Region
from planblanc.tenancy import Perm, get_for_user


def establishment_list(*, user: Any, search: str = "", region_id: int | None = None,
                       category: str = "", perm: Perm = Perm.VIEW_DIRECTORY) -> QuerySet[Establishment]:
    qs = Establishment.objects.visible_to(user, perm).select_related("region", "group")
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(finess__icontains=search.replace(" ", "")) | Q(city__icontains=search))
    if region_id:
        qs = qs.filter(region_id=region_id)
    if category:
        qs = qs.filter(category=category)
    # Correlated subqueries: one join per count would multiply rows before grouping.
    people = (
        Membership.objects.filter(establishment=OuterRef("pk")).order_by().values("establishment")
        .annotate(n=Count("person", distinct=True)).values("n")
    )
    return qs.annotate(people_count=Coalesce(Subquery(people), 0))


def establishment_detail(*, user: Any, pk: int) -> Establishment:
    return get_for_user(user, Establishment.objects.select_related("region", "group"), pk=pk)


def department_list(*, user: Any, establishment: Establishment) -> QuerySet[Department]:
    return Department.objects.visible_to(user).filter(establishment=establishment)


def person_list(*, user: Any, search: str = "", establishment_id: int | None = None,
                function: str = "", perm: Perm = Perm.VIEW_DIRECTORY) -> QuerySet[Person]:
    visible_memberships = Membership.objects.visible_to(user, perm).select_related("establishment", "department")
    qs = Person.objects.visible_to(user, perm)
    if search:
        qs = qs.filter(
            Q(last_name__icontains=search) | Q(first_name__icontains=search) | Q(email__icontains=search)
            | Q(job_title__icontains=search)
        )
    if establishment_id:
        qs = qs.filter(memberships__establishment_id=establishment_id)
        visible_memberships = visible_memberships.filter(establishment_id=establishment_id)
    if function:
        qs = qs.filter(memberships__function=function)
    # Only memberships the user may see are shown next to a person.
    return qs.distinct().prefetch_related(Prefetch("memberships", queryset=visible_memberships, to_attr="visible_memberships"))


def person_memberships(*, user: Any, person: Person) -> QuerySet[Membership]:
    return Membership.objects.visible_to(user).filter(person=person).select_related("establishment", "department")


def region_list(*, user: Any) -> QuerySet[Region]:
    return Region.objects.visible_to(user)


def group_list(*, user: Any) -> QuerySet[Group]:
    return Group.objects.visible_to(user).select_related("region")


def directory_summary(*, user: Any) -> dict[str, int]:
    establishments = Establishment.objects.visible_to(user)
    return {
        "establishments": establishments.count(),
        "priority": establishments.filter(is_priority=True).count(),
        "essential": establishments.filter(is_essential_operator=True).count(),
        "people": Person.objects.visible_to(user).count(),
        "without_mobile": Person.objects.visible_to(user).filter(mobile_phone="").count(),
    }
