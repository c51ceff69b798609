"""The one place where "may this actor do that" is decided, next to tenancy.py (which
decides what an actor may see).

Every `may_*` predicate answers a yes/no question for views, the API, templates (through
the one `{% may %}` tag, core/templatetags/rights.py) and the menu; every `require_*`
raises PermissionDenied with the message the user sees. Services call the `require_*`
before writing, so that a view that forgot its check still cannot write.

A process (`SystemActor`) holds no role: it passes only the checks made for processes,
such as sending alerts for an escalation policy, a declared crisis or an exercise.
The predicates take the objects they judge (a plan, a crisis, an exercise) without
importing their apps: they read the establishment from them, so this module stays
below every app that asks it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from planblanc.actors import Actor, SystemActor
from planblanc.directory.models import Function, Membership, Person
from planblanc.tenancy import Perm, can, has_perm_somewhere, scope_for

if TYPE_CHECKING:
    from planblanc.directory.models import Establishment, Region

# The functions that approve the plan and declare a crisis for their establishment.
APPROVER_FUNCTIONS = (Function.DIRECTOR, Function.DEPUTY_DIRECTOR)


def _is_user(actor: Actor) -> bool:
    return bool(getattr(actor, "is_authenticated", False))


# Plans ------------------------------------------------------------------------------------


def may_edit_plan(actor: Actor, plan: Any) -> bool:
    return can(actor, Perm.EDIT_PLAN, plan.establishment)


def require_edit_plan(actor: Actor, plan: Any) -> None:
    if not may_edit_plan(actor, plan):
        raise PermissionDenied(_("You are not allowed to change this plan."))


def is_director(actor: Actor, establishment: Establishment) -> bool:
    """The director of the establishment, or a deputy director: a login linked to a
    person who holds one of those functions there (and still sees its directory)."""
    if not _is_user(actor) or not can(actor, Perm.VIEW_DIRECTORY, establishment):
        return False
    return Membership.objects.filter(
        person__user=actor, establishment=establishment, function__in=APPROVER_FUNCTIONS
    ).exists()


def may_approve_plan(actor: Actor, plan: Any) -> bool:
    """The director (or a deputy director) approves the establishment's plan."""
    return is_director(actor, plan.establishment)


# Crisis -----------------------------------------------------------------------------------


def may_declare_crisis(actor: Actor, establishment: Establishment) -> bool:
    """The same rule as approving the plan: a national or regional role alone is not
    enough to declare a crisis in an establishment."""
    return is_director(actor, establishment)


def may_run_crisis(actor: Actor, crisis: Any) -> bool:
    """Crisis-cell members and establishment administrators (RUN_CRISIS), and whoever may
    declare, write in the crisis; others in scope (region, group, auditors) only read."""
    if not _is_user(actor):
        return False
    if crisis.establishment_id is None:
        # A regional crisis cell: its regional officers write in it.
        return crisis.region_id in scope_for(actor, Perm.RUN_REGIONAL_CELL).region_ids
    return can(actor, Perm.RUN_CRISIS, crisis.establishment) or may_declare_crisis(actor, crisis.establishment)


def may_end_crisis(actor: Actor, crisis: Any) -> bool:
    """Ending a crisis is irreversible: it follows the rule of declaring it (the director
    or a deputy director); a regional cell is ended by its regional officers."""
    if crisis.establishment_id is None:
        return may_run_crisis(actor, crisis)
    return may_declare_crisis(actor, crisis.establishment)


def require_run_crisis(actor: Actor, crisis: Any) -> None:
    if not may_run_crisis(actor, crisis):
        raise PermissionDenied(_("You are not allowed to write in this crisis."))


def may_approve_communication(actor: Actor, crisis: Any) -> bool:
    """The director or a deputy director, or the communication officer of the
    establishment (the communication seat)."""
    if may_declare_crisis(actor, crisis.establishment):
        return True
    return _is_user(actor) and Membership.objects.filter(
        person__user=actor, establishment=crisis.establishment, function=Function.COMMUNICATION,
    ).exists()


# Exercises --------------------------------------------------------------------------------


def may_prepare_exercises(actor: Actor, establishment: Establishment) -> bool:
    if isinstance(actor, SystemActor):
        return actor.runs_exercises
    return can(actor, Perm.RUN_EXERCISE, establishment)


def require_prepare_exercises(actor: Actor, establishment: Establishment) -> None:
    if not may_prepare_exercises(actor, establishment):
        raise PermissionDenied(_("You are not allowed to prepare exercises for this establishment."))


def may_edit_exercise(actor: Actor, exercise: Any) -> bool:
    return may_prepare_exercises(actor, exercise.establishment)


def exercise_participant(actor: Actor, exercise: Any) -> Any:
    """The actor's participation in the exercise (a Participant row), or None."""
    if not _is_user(actor):
        return None
    return exercise.participants.filter(person__user=actor).first()


def may_animate_run(actor: Actor, exercise: Any) -> bool:
    if isinstance(actor, SystemActor):
        return actor.runs_exercises
    return can(actor, Perm.RUN_EXERCISE, exercise.establishment)


def require_animate_run(actor: Actor, exercise: Any) -> None:
    if not may_animate_run(actor, exercise):
        raise PermissionDenied(_("You are not allowed to run this exercise."))


def may_observe_run(actor: Actor, exercise: Any) -> bool:
    """Animators, and the participants who observe or animate."""
    if may_animate_run(actor, exercise):
        return True
    participant = exercise_participant(actor, exercise)
    return participant is not None and participant.role in ("observer", "animator")


def may_play_run(actor: Actor, exercise: Any) -> bool:
    """Players take injects in hand; animators may do it for them."""
    return exercise_participant(actor, exercise) is not None or may_animate_run(actor, exercise)


def may_launch_regional_exercise(actor: Actor, establishment: Establishment) -> bool:
    """Whether the actor may include this establishment in a regional exercise: a
    regional officer in their region, a group CISO in their group, the national level."""
    return _is_user(actor) and can(actor, Perm.RUN_REGIONAL_EXERCISE, establishment)


def may_run_regional_exercises_somewhere(actor: Actor) -> bool:
    return _is_user(actor) and has_perm_somewhere(actor, Perm.RUN_REGIONAL_EXERCISE)


def may_animate_regional_exercise(actor: Actor, regional: Any) -> bool:
    """The regional console: the regional officers of its region (a group's regional
    exercise included), the group CISOs of its group, the national level."""
    if not _is_user(actor):
        return False
    scope = scope_for(actor, Perm.RUN_REGIONAL_EXERCISE)
    return bool(scope.national or regional.region_id in scope.region_ids
                or (regional.group_id is not None and regional.group_id in scope.group_ids))


def require_animate_regional_exercise(actor: Actor, regional: Any) -> None:
    if not may_animate_regional_exercise(actor, regional):
        raise PermissionDenied(_("You are not allowed to run this regional exercise."))


# Readiness --------------------------------------------------------------------------------


def may_assess(actor: Actor, establishment: Establishment) -> bool:
    return can(actor, Perm.ASSESS, establishment)


def require_assess(actor: Actor, establishment: Establishment) -> None:
    if not may_assess(actor, establishment):
        raise PermissionDenied(_("You are not allowed to make this change."))


def may_view_observatory(actor: Actor) -> bool:
    """The observatory is for viewers over several establishments: national, regional
    (ARS) and group (GHT) scopes, auditors included. An establishment's own staff have
    its dashboard."""
    scope = scope_for(actor, Perm.VIEW_DIRECTORY)
    return bool(scope.national or scope.region_ids or scope.group_ids)


# Alerting ---------------------------------------------------------------------------------


def may_send_alerts(actor: Actor, *, establishment: Establishment | None, region: Region | None) -> bool:
    """The "send alerts" right: to an establishment's people (SEND_ALERTS over it), or to a
    whole region (SEND_REGIONAL_ALERTS over the region). A process sends only if it is
    one of those the platform runs for a decision already taken (`sends_alerts`)."""
    if isinstance(actor, SystemActor):
        return actor.sends_alerts
    if not _is_user(actor):
        return False
    if establishment is not None:
        return can(actor, Perm.SEND_ALERTS, establishment)
    scope = scope_for(actor, Perm.SEND_REGIONAL_ALERTS)
    return region is not None and (scope.national or region.pk in scope.region_ids)


def require_send_alerts(actor: Actor, *, establishment: Establishment | None, region: Region | None) -> None:
    if not may_send_alerts(actor, establishment=establishment, region=region):
        raise PermissionDenied(_("You are not allowed to send alerts here."))


def may_send_alerts_somewhere(actor: Actor) -> bool:
    return has_perm_somewhere(actor, Perm.SEND_ALERTS)


def may_send_targeted_alerts_somewhere(actor: Actor) -> bool:
    return may_send_alerts_somewhere(actor) or has_perm_somewhere(actor, Perm.SEND_REGIONAL_ALERTS)


def may_receive_cap(actor: Actor) -> bool:
    """Regional and national officers: a CAP message alerts a region's establishments."""
    if not _is_user(actor):
        return False
    scope = scope_for(actor, Perm.SEND_REGIONAL_ALERTS)
    return bool(scope.national or scope.region_ids)


def may_edit_contact_preference(actor: Actor, person: Person) -> bool:
    """The person themself, or whoever manages the people of one of their establishments."""
    if _is_user(actor) and getattr(person, "user_id", None) == actor.pk:
        return True
    return Person.objects.visible_to(actor, Perm.MANAGE_PEOPLE).filter(pk=person.pk).exists()


# Mutual aid -------------------------------------------------------------------------------


def may_request_aid(actor: Actor, establishment: Establishment) -> bool:
    """The establishment's crisis cell asks for help and writes its situation reports
    (RUN_CRISIS there)."""
    return can(actor, Perm.RUN_CRISIS, establishment)


def may_act_for(actor: Actor, *, level: str, establishment: Establishment | None = None, group: Any = None,
                region: Region | None = None) -> bool:
    """Whether `actor` keeps the pooled resources of, and answers help requests for, this
    establishment, group or region (OFFER_AID: its administrator, the group CISO, the
    regional officer)."""
    scope = scope_for(actor, Perm.OFFER_AID)
    if scope.national:
        return True
    if level == "establishment":
        return establishment is not None and scope.covers(establishment)
    if level == "group":
        return group is not None and (group.pk in scope.group_ids or group.region_id in scope.region_ids)
    return region is not None and region.pk in scope.region_ids


def require_act_for(actor: Actor, **owner: Any) -> None:
    if not may_act_for(actor, **owner):
        raise PermissionDenied(_("You are not allowed to do this here."))


def may_run_regional_cell(actor: Actor, region_id: int | None) -> bool:
    """The regional officers of the region run its crisis cell; the national level reads."""
    return region_id is not None and region_id in scope_for(actor, Perm.RUN_REGIONAL_CELL).region_ids


def may_run_a_regional_cell(actor: Actor) -> bool:
    return has_perm_somewhere(actor, Perm.RUN_REGIONAL_CELL)


# Menu and templates -----------------------------------------------------------------------

# The rights a template may ask through `{% may "name" obj %}`: name → predicate.
TEMPLATE_RIGHTS: dict[str, Callable[..., bool]] = {
    "view_observatory": may_view_observatory,
    "receive_cap": may_receive_cap,
    "send_alerts_somewhere": may_send_alerts_somewhere,
    "edit_plan": may_edit_plan,
    "approve_plan": may_approve_plan,
    "run_crisis": may_run_crisis,
    "edit_exercise": may_edit_exercise,
    "request_aid": may_request_aid,
}


def menu_rights(actor: Actor) -> dict[str, bool]:
    """What the main menu shows, by the same rules as the pages it leads to."""
    return {
        "may_view_observatory": may_view_observatory(actor),
        "may_view_audit": has_perm_somewhere(actor, Perm.VIEW_AUDIT),
        "may_manage_people": has_perm_somewhere(actor, Perm.MANAGE_PEOPLE),
        "may_manage_establishments": has_perm_somewhere(actor, Perm.MANAGE_ESTABLISHMENTS),
        "may_manage_access": has_perm_somewhere(actor, Perm.MANAGE_ACCESS),
        "may_run_regional_exercises": may_run_regional_exercises_somewhere(actor),
    }


# Awareness ---------------------------------------------------------------------------------


def may_manage_awareness(actor: Actor, establishment: Establishment) -> bool:
    """Those who keep the establishment's self-assessments (CaRE axis 3 is one of its
    measures) run its awareness campaigns and see the progress of every department."""
    return _is_user(actor) and can(actor, Perm.ASSESS, establishment)


def awareness_departments(actor: Actor, establishment: Establishment) -> frozenset[int] | None:
    """Whose progress this actor may see: None for every department (who manages the
    campaigns), or the departments the actor heads there (a login linked to a person who
    is a department head with a department); an empty set: nothing (outside scope)."""
    if may_manage_awareness(actor, establishment):
        return None
    if not _is_user(actor):
        return frozenset()
    return frozenset(
        Membership.objects.filter(
            person__user=actor, establishment=establishment, function=Function.DEPARTMENT_HEAD,
            department__isnull=False,
        ).values_list("department_id", flat=True)
    )


def require_manage_awareness(actor: Actor, establishment: Establishment) -> None:
    if not may_manage_awareness(actor, establishment):
        raise PermissionDenied(_("You are not allowed to run awareness campaigns here."))


def may_launch_awareness(actor: Actor, *, group: Any = None, region: Any = None) -> bool:
    """Launch one awareness campaign for every establishment of a group (GHT) or a region,
    or (neither) of the country. A group CISO launches for their group (they keep its
    self-assessments); a regional officer for their region (they alert its establishments
    and follow its readiness); the national level anywhere."""
    if not _is_user(actor):
        return False
    assess = scope_for(actor, Perm.ASSESS)
    regional = scope_for(actor, Perm.SEND_REGIONAL_ALERTS)
    if assess.national:
        return True
    if group is not None:
        return (group.pk in assess.group_ids or group.region_id in assess.region_ids
                or group.region_id in regional.region_ids)
    if region is not None:
        return region.pk in assess.region_ids or region.pk in regional.region_ids
    return False


def awareness_launch_scopes(actor: Actor) -> tuple[bool, frozenset[int], frozenset[int]]:
    """(national, region ids, group ids) where the actor may launch a group campaign."""
    if not _is_user(actor):
        return False, frozenset(), frozenset()
    assess = scope_for(actor, Perm.ASSESS)
    regional = scope_for(actor, Perm.SEND_REGIONAL_ALERTS)
    return assess.national, assess.region_ids | regional.region_ids, assess.group_ids


def require_launch_awareness(actor: Actor, *, group: Any = None, region: Any = None) -> None:
    if not may_launch_awareness(actor, group=group, region=region):
        raise PermissionDenied(_("You are not allowed to launch awareness campaigns here."))


TEMPLATE_RIGHTS["manage_awareness"] = may_manage_awareness
