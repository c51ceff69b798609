"""The one place where "what may this user see and change" is decided.

A user holds role assignments (accounts.RoleAssignment). Each role grants permissions
(ROLE_PERMISSIONS) over a scope: the whole country, one region, one group (GHT) or one
establishment. Every tenant model's manager is a TenantQuerySet, and every view, API
endpoint, admin page and command reads through `visible_to(user, perm)` or
`get_for_user(...)`. What is outside the scope does not exist for the user: a 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from planblanc.actors import Actor, SystemActor

if TYPE_CHECKING:
    pass


class Role(models.TextChoices):
    NATIONAL_ADMIN = "national_admin", _("National administrator")
    REGIONAL_OFFICER = "regional_officer", _("Regional officer (ARS)")
    GROUP_CISO = "group_ciso", _("Group CISO (GHT)")
    ESTABLISHMENT_ADMIN = "establishment_admin", _("Establishment administrator")
    CRISIS_MEMBER = "crisis_member", _("Crisis cell member")
    EXERCISE_ANIMATOR = "exercise_animator", _("Exercise animator")
    AUDITOR = "auditor", _("Read-only auditor")


class Perm(StrEnum):
    VIEW_DIRECTORY = "directory.view"
    # People, their memberships and the establishment's departments.
    MANAGE_PEOPLE = "directory.manage_people"
    # The establishment records themselves (create one in a region, edit FINESS, flags).
    MANAGE_ESTABLISHMENTS = "directory.manage_establishments"
    MANAGE_ACCESS = "accounts.manage_access"
    VIEW_AUDIT = "accounts.view_audit"
    # Write the white plan's draft. Approving it is the director's (or deputy's) act,
    # decided by their function in the establishment (rights.may_approve_plan).
    EDIT_PLAN = "plans.edit"
    # Answer self-assessments, keep the action plan and the governance record.
    ASSESS = "readiness.assess"
    # Prepare, plan and run crisis exercises (scenario, injects, participants).
    RUN_EXERCISE = "exercises.run"
    # Write in a declared crisis: logbook, decisions, tasks, status board, damage
    # assessment, end of crisis. Declaring it is the director's (or deputy's) act, decided
    # like approval by their function (rights.may_declare_crisis).
    RUN_CRISIS = "crisis.run"
    # Send alerts to the people of an establishment (campaigns, escalations, follow-ups).
    SEND_ALERTS = "alerting.send"
    # Send alerts to the establishments of a whole region (ARS campaigns, CAP messages).
    SEND_REGIONAL_ALERTS = "alerting.send_regional"
    # Mutual aid: keep the pooled-resource catalogue of the scope and answer help
    # requests on its behalf (offers, commitments, deliveries).
    OFFER_AID = "mutual_aid.offer"
    # Run the regional crisis cell: open it, link establishment crises, write its logbook,
    # send regional alerts. The national level follows it read-only.
    RUN_REGIONAL_CELL = "mutual_aid.regional_cell"
    # Launch one scenario in several establishments of the scope at the same moment and
    # animate them together (regional simultaneous exercise), from a region or a group.
    RUN_REGIONAL_EXERCISE = "exercises.run_regional"


ROLE_PERMISSIONS: dict[Any, frozenset[Perm]] = {
    # The national level follows crises read-only: a crisis is run by its establishment.
    Role.NATIONAL_ADMIN: frozenset(Perm) - {Perm.RUN_CRISIS, Perm.RUN_REGIONAL_CELL, Perm.OFFER_AID},
    Role.REGIONAL_OFFICER: frozenset(
        {Perm.VIEW_DIRECTORY, Perm.MANAGE_ESTABLISHMENTS, Perm.VIEW_AUDIT, Perm.SEND_REGIONAL_ALERTS,
         Perm.OFFER_AID, Perm.RUN_REGIONAL_CELL, Perm.RUN_REGIONAL_EXERCISE}
    ),
    Role.GROUP_CISO: frozenset(
        {Perm.VIEW_DIRECTORY, Perm.MANAGE_PEOPLE, Perm.VIEW_AUDIT, Perm.EDIT_PLAN, Perm.ASSESS,
         Perm.RUN_EXERCISE, Perm.SEND_ALERTS, Perm.OFFER_AID, Perm.RUN_REGIONAL_EXERCISE}
    ),
    Role.ESTABLISHMENT_ADMIN: frozenset(
        {
            Perm.VIEW_DIRECTORY,
            Perm.MANAGE_PEOPLE,
            Perm.MANAGE_ESTABLISHMENTS,
            Perm.MANAGE_ACCESS,
            Perm.VIEW_AUDIT,
            Perm.EDIT_PLAN,
            Perm.ASSESS,
            Perm.RUN_CRISIS,
            Perm.RUN_EXERCISE,
            Perm.SEND_ALERTS,
            Perm.SEND_REGIONAL_ALERTS,
            Perm.OFFER_AID,
        }
    ),
    Role.CRISIS_MEMBER: frozenset({Perm.VIEW_DIRECTORY, Perm.RUN_CRISIS}),
    Role.EXERCISE_ANIMATOR: frozenset({Perm.VIEW_DIRECTORY, Perm.RUN_EXERCISE}),
    Role.AUDITOR: frozenset({Perm.VIEW_DIRECTORY, Perm.VIEW_AUDIT}),
}

# Roles that can change data for others: their holders must use two-factor login.
ADMINISTRATOR_ROLES = frozenset(
    {Role.NATIONAL_ADMIN, Role.REGIONAL_OFFICER, Role.GROUP_CISO, Role.ESTABLISHMENT_ADMIN}
)

# Which scope each role is given at: None means the whole country.
ROLE_SCOPE_LEVEL: dict[Any, tuple[str, ...]] = {
    Role.NATIONAL_ADMIN: ("national",),
    Role.REGIONAL_OFFICER: ("region",),
    Role.GROUP_CISO: ("group",),
    Role.ESTABLISHMENT_ADMIN: ("establishment",),
    Role.CRISIS_MEMBER: ("establishment",),
    Role.EXERCISE_ANIMATOR: ("establishment",),
    Role.AUDITOR: ("national", "region", "group", "establishment"),
}


@dataclass(frozen=True)
class Scope:
    """Where a user holds one permission."""

    national: bool = False
    region_ids: frozenset[int] = field(default_factory=frozenset)
    group_ids: frozenset[int] = field(default_factory=frozenset)
    establishment_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_empty(self) -> bool:
        return not (self.national or self.region_ids or self.group_ids or self.establishment_ids)

    def establishment_q(self, path: str = "") -> Q:
        """A filter on establishments, reached through `path` from the queried model."""
        if self.national:
            return Q()
        prefix = f"{path}__" if path else ""
        own_pk = f"{path}_id" if path else "pk"
        q = Q(pk__in=[])
        if self.region_ids:
            q |= Q(**{f"{prefix}region_id__in": self.region_ids})
        if self.group_ids:
            q |= Q(**{f"{prefix}group_id__in": self.group_ids})
        if self.establishment_ids:
            q |= Q(**{f"{own_pk}__in": self.establishment_ids})
        return q

    def covers(self, establishment: Any) -> bool:
        return (
            self.national
            or establishment.region_id in self.region_ids
            or (establishment.group_id is not None and establishment.group_id in self.group_ids)
            or establishment.pk in self.establishment_ids
        )


def _assignments(user: Any) -> list[Any]:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, "_planblanc_assignments", None)
    if cached is None:
        cached = list(user.role_assignments.all())
        user._planblanc_assignments = cached
    return cached


def forget_cached_roles(user: Any) -> None:
    if hasattr(user, "_planblanc_assignments"):
        del user._planblanc_assignments


def roles_of(user: Any) -> set[str]:
    return {assignment.role for assignment in _assignments(user)}


def scope_for(user: Any, perm: Perm) -> Scope:
    regions: set[int] = set()
    groups: set[int] = set()
    establishments: set[int] = set()
    for assignment in _assignments(user):
        if perm not in ROLE_PERMISSIONS.get(assignment.role, frozenset()):
            continue
        if assignment.establishment_id:
            establishments.add(assignment.establishment_id)
        elif assignment.group_id:
            groups.add(assignment.group_id)
        elif assignment.region_id:
            regions.add(assignment.region_id)
        else:
            return Scope(national=True)
    return Scope(
        region_ids=frozenset(regions),
        group_ids=frozenset(groups),
        establishment_ids=frozenset(establishments),
    )


def has_perm_somewhere(user: Any, perm: Perm) -> bool:
    return not scope_for(user, perm).is_empty


def can(user: Any, perm: Perm, establishment: Any) -> bool:
    """Whether `user` holds `perm` over this establishment."""
    return scope_for(user, perm).covers(establishment)


def can_in_region(user: Any, perm: Perm, region_id: int | None, group_id: int | None = None) -> bool:
    """For creating an establishment: the scope must cover the whole region or the group."""
    scope = scope_for(user, perm)
    return scope.national or region_id in scope.region_ids or (
        group_id is not None and group_id in scope.group_ids
    )


def needs_two_factor(user: Any) -> bool:
    return bool(roles_of(user) & ADMINISTRATOR_ROLES)


_Q = TypeVar("_Q", bound="TenantQuerySet")


class TenantQuerySet(models.QuerySet):
    """A queryset that knows how its rows hang from an establishment, region or group.

    tenant_kind: "establishment" (rows of an establishment, through tenant_path),
    "region", "group" or "person" (people are visible through their memberships).
    """

    tenant_kind: str = "establishment"
    tenant_path: str = ""

    @classmethod
    def as_manager_for(cls, kind: str, *, path: str = "") -> models.Manager:
        queryset_class: Any = type(
            f"{kind.title()}{path.title().replace('_', '')}TenantQuerySet",
            (cls,),
            {"tenant_kind": kind, "tenant_path": path, "__module__": cls.__module__},
        )
        return queryset_class.as_manager()

    def visible_to(self: _Q, user: Any, perm: Perm = Perm.VIEW_DIRECTORY) -> _Q:
        scope = scope_for(user, perm)
        if scope.national:
            return self
        if scope.is_empty:
            return self.none()
        return self.filter(self._scope_q(scope))

    def _scope_q(self, scope: Scope) -> Q:
        establishment_model = apps.get_model("directory", "Establishment")
        if self.tenant_kind == "establishment":
            return scope.establishment_q(self.tenant_path)
        visible_establishments = establishment_model.objects.filter(scope.establishment_q())
        if self.tenant_kind == "region":
            return (
                Q(pk__in=scope.region_ids)
                | Q(pk__in=apps.get_model("directory", "Group").objects.filter(pk__in=scope.group_ids).values("region_id"))
                | Q(pk__in=visible_establishments.values("region_id"))
            )
        if self.tenant_kind == "group":
            return (
                Q(region_id__in=scope.region_ids)
                | Q(pk__in=scope.group_ids)
                | Q(pk__in=visible_establishments.exclude(group_id=None).values("group_id"))
            )
        if self.tenant_kind == "person":
            membership_model = apps.get_model("directory", "Membership")
            return Q(
                pk__in=membership_model.objects.filter(establishment__in=visible_establishments).values(
                    "person_id"
                )
            )
        if self.tenant_kind == "user":
            assignment_model = apps.get_model("accounts", "RoleAssignment")
            return Q(
                pk__in=assignment_model.objects.filter(
                    establishment__in=visible_establishments
                ).values("user_id")
            )
        prefix = f"{self.tenant_path}__" if self.tenant_path else ""
        group_model = apps.get_model("directory", "Group")
        if self.tenant_kind == "regional":
            # Rows of a region as such (the regional crisis cell): regional scopes only.
            return Q(**{f"{prefix}region_id__in": scope.region_ids})
        if self.tenant_kind == "neighbourhood":
            # Pooled resources: visible in every region the scope touches, never outside.
            return (
                Q(**{f"{prefix}region_id__in": scope.region_ids})
                | Q(**{f"{prefix}region_id__in": group_model.objects.filter(pk__in=scope.group_ids).values("region_id")})
                | Q(**{f"{prefix}region_id__in": visible_establishments.values("region_id")})
            )
        if self.tenant_kind == "aid_request":
            # Help requests (and their offers): the requester's side, and whoever they are
            # addressed to (an establishment, its group, or the region).
            own_groups = visible_establishments.exclude(group_id=None).values("group_id")
            return (
                scope.establishment_q(f"{prefix}requester")
                | scope.establishment_q(f"{prefix}target_establishment")
                | Q(**{f"{prefix}target_group_id__in": scope.group_ids})
                | Q(**{f"{prefix}target_group_id__in": own_groups})
                | Q(**{f"{prefix}target_region_id__in": scope.region_ids})
            )
        raise ValueError(f"unknown tenant kind {self.tenant_kind!r}")


def get_for_user(
    user: Any,
    queryset: models.QuerySet | type[models.Model],
    perm: Perm = Perm.VIEW_DIRECTORY,
    **lookup: Any,
) -> Any:
    """Fetch one object within the user's scope, or raise Http404 (never 403: no leak)."""
    if isinstance(queryset, type):
        queryset = queryset._default_manager.all()  # type: ignore[attr-defined]
    try:
        return queryset.visible_to(user, perm).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc
    except Exception as exc:  # a malformed id in the URL is not the user's data either

        if isinstance(exc, ValidationError):
            raise Http404 from exc
        raise


def user_label(user: Actor | None) -> str:
    """A person's name (or username), or a process's label."""
    if user is None:
        return ""
    if isinstance(user, SystemActor):
        return user.label
    return user.get_full_name() or user.get_username()
