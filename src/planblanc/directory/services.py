"""Writes to the directory. Each checks the actor's right, validates everything before
writing anything, and records the audit entry in the same transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _

from planblanc.accounts.audit import audit_record, diff, snapshot
from planblanc.actors import Actor
from planblanc.directory.models import Department, Establishment, Function, Membership, Person
from planblanc.tenancy import Perm, can, can_in_region

ESTABLISHMENT_FIELDS = (
    "finess", "name", "category", "is_essential_operator", "is_priority", "region", "group",
    "address", "postal_code", "city", "switchboard_phone",
)
PERSON_FIELDS = (
    "first_name", "last_name", "job_title", "email", "mobile_phone", "landline_phone", "matrix_id",
    "preferred_language",
)


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied(_("You are not allowed to make this change."))


def _assign(instance: Any, data: dict[str, Any], fields: Iterable[str]) -> None:
    """Set the given fields. An explicit null empties a text field and is refused on any
    other field that cannot be empty (never a database error)."""
    for name in fields:
        if name not in data:
            continue
        value = data[name]
        if value is None:
            field = instance._meta.get_field(name)
            if isinstance(field, models.CharField | models.TextField) and not field.null:
                value = ""
            elif not field.null:
                raise ValidationError({name: _("This field cannot be empty.")})
        setattr(instance, name, value)


def _validate(instance: Any) -> None:
    instance.full_clean()
    if isinstance(instance, Establishment) and instance.group_id and instance.group.region_id != instance.region_id:
        raise ValidationError({"group": _("This hospital group belongs to another region.")})


# Establishments ----------------------------------------------------------------------


# Designations made by the State (the ARS or the ministry), not by the establishment or its
# group: only a regional or national scope may set or clear them.
STATE_DESIGNATIONS = ("is_priority", "is_essential_operator")


class StateDesignationDenied(PermissionDenied):
    """Refusal whose message says which rule refused (shown on the form and by the API)."""


def _require_state_designation_right(actor: Actor, establishment: Establishment, before: dict[str, Any]) -> None:
    changed = [name for name in STATE_DESIGNATIONS if getattr(establishment, name) != before.get(name, False)]
    if changed and not can_in_region(actor, Perm.MANAGE_ESTABLISHMENTS, establishment.region_id):
        raise StateDesignationDenied(
            _("Only the regional health agency or a national administrator may change whether an "
              "establishment is a priority establishment or an essential-services operator.")
        )


def establishment_create(*, actor: Actor, data: dict[str, Any]) -> Establishment:
    establishment = Establishment()
    _assign(establishment, data, ESTABLISHMENT_FIELDS)
    _require(
        can_in_region(actor, Perm.MANAGE_ESTABLISHMENTS, establishment.region_id, establishment.group_id)
    )
    _require_state_designation_right(actor, establishment, {})
    _validate(establishment)
    with transaction.atomic():
        establishment.save()
        audit_record(
            actor=actor, action="establishment.create", obj=establishment, establishment=establishment,
            changes=diff({}, snapshot(establishment)),
        )
    return establishment


def establishment_update(*, actor: Actor, establishment: Establishment, data: dict[str, Any]) -> Establishment:
    # Read the stored row: a bound form may already have changed the instance in memory.
    stored = Establishment.objects.get(pk=establishment.pk)
    _require(can(actor, Perm.MANAGE_ESTABLISHMENTS, stored))
    before = snapshot(stored)
    _assign(establishment, data, ESTABLISHMENT_FIELDS)
    # Moving an establishment elsewhere needs the right over its new place as well.
    if establishment.region_id != before["region_id"] or establishment.group_id != before["group_id"]:
        _require(
            can_in_region(actor, Perm.MANAGE_ESTABLISHMENTS, establishment.region_id, establishment.group_id)
        )
    _require_state_designation_right(actor, establishment, before)
    _validate(establishment)
    changes = diff(before, snapshot(establishment))
    if not changes:
        return establishment
    with transaction.atomic():
        establishment.save()
        audit_record(
            actor=actor, action="establishment.update", obj=establishment, establishment=establishment,
            changes=changes,
        )
    return establishment


# Departments -------------------------------------------------------------------------


def department_create(*, actor: Actor, establishment: Establishment, data: dict[str, Any]) -> Department:
    _require(can(actor, Perm.MANAGE_PEOPLE, establishment))
    department = Department(establishment=establishment)
    _assign(department, data, ("kind", "name", "phone"))
    _validate(department)
    with transaction.atomic():
        department.save()
        audit_record(
            actor=actor, action="department.create", obj=department, establishment=establishment,
            changes=diff({}, snapshot(department)),
        )
    return department


def department_update(*, actor: Actor, department: Department, data: dict[str, Any]) -> Department:
    stored = Department.objects.select_related("establishment").get(pk=department.pk)
    _require(can(actor, Perm.MANAGE_PEOPLE, stored.establishment))
    before = snapshot(stored)
    _assign(department, data, ("kind", "name", "phone"))
    _validate(department)
    with transaction.atomic():
        department.save()
        audit_record(
            actor=actor, action="department.update", obj=department, establishment=department.establishment,
            changes=diff(before, snapshot(department)),
        )
    return department


def department_delete(*, actor: Actor, department: Department) -> None:
    _require(can(actor, Perm.MANAGE_PEOPLE, department.establishment))
    with transaction.atomic():
        audit_record(
            actor=actor, action="department.delete", obj=department, establishment=department.establishment,
            changes=diff(snapshot(department), {}),
        )
        department.delete()


# People ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MembershipSpec:
    establishment: Establishment
    function: str
    department: Department | None = None


def _validate_memberships(actor: Actor, specs: list[MembershipSpec]) -> None:
    for spec in specs:
        _require(can(actor, Perm.MANAGE_PEOPLE, spec.establishment))
        if spec.function not in Function.values:
            raise ValidationError({"function": _("Unknown function “%(value)s”.") % {"value": spec.function}})
        if spec.department is not None and spec.department.establishment_id != spec.establishment.pk:
            raise ValidationError({"department": _("This department belongs to another establishment.")})


def _validate_unique_email(person: Person, *, actor: Actor, establishments: list[Establishment]) -> None:
    """One person per address among the people the actor manages and those of the
    person's own establishments. A person with that address elsewhere, outside the
    actor's scope, is someone else's record: it neither blocks nor shows (the answer
    must not tell whether an address is used in another tenant)."""
    if person.email:
        person.email = person.email.strip().lower()
        same = Person.objects.filter(email__iexact=person.email).exclude(pk=person.pk)
        clash = (
            same.filter(pk__in=Person.objects.visible_to(actor, Perm.MANAGE_PEOPLE).values("pk")).exists()
            or same.filter(memberships__establishment__in=establishments).exists()
        )
        if clash:
            raise ValidationError({"email": _("Another person already uses this email address.")})


def person_create(*, actor: Actor, data: dict[str, Any], memberships: list[MembershipSpec]) -> Person:
    """Create a person with at least one function in an establishment the actor manages
    (a person without any establishment would be visible to no one)."""
    if not memberships:
        raise ValidationError(_("A person must belong to at least one establishment."))
    _validate_memberships(actor, memberships)
    person = Person()
    _assign(person, data, PERSON_FIELDS)
    _validate_unique_email(person, actor=actor, establishments=[spec.establishment for spec in memberships])
    _validate(person)
    try:
        with transaction.atomic():
            person.save()
            for spec in memberships:
                Membership.objects.get_or_create(
                    person=person, establishment=spec.establishment, function=spec.function,
                    defaults={"department": spec.department},
                )
            audit_record(
                actor=actor, action="person.create", obj=person, establishment=memberships[0].establishment,
                changes={**diff({}, snapshot(person)), "memberships": [
                    [None, f"{spec.establishment.finess}:{spec.function}"] for spec in memberships
                ]},
            )
    except IntegrityError as exc:  # two concurrent creations with the same address
        raise ValidationError({"email": _("Another person already uses this email address.")}) from exc
    return person


def _person_establishments(person: Person) -> list[Establishment]:
    return list(Establishment.objects.filter(memberships__person=person).distinct())


class SharedPersonDenied(PermissionDenied):
    """A change to a person who also belongs to establishments outside the actor's scope.
    The message says who can make it (shown on the form and by the API)."""


def shared_person_denial(establishments: list[Establishment]) -> str:
    """Who may change the details of a person belonging to these establishments: whoever
    manages people at every one of them. Named by role and region, without naming the
    establishments the actor cannot see."""
    regions = {e.region_id for e in establishments}
    if len(regions) == 1:
        agency = establishments[0].region
        return _(
            "This person also belongs to establishments outside your scope: their contact details can only be "
            "changed, and the person deleted, by someone who manages people at every one of them — the regional "
            "health agency (%(region)s) or a national administrator. Ask them to make the change."
        ) % {"region": agency.agency_name or agency.name}
    return _(
        "This person also belongs to establishments outside your scope, in several regions: their contact "
        "details can only be changed, and the person deleted, by a national administrator. Ask them to make "
        "the change."
    )


def person_may_change_details(actor: Actor, person: Person) -> bool:
    """Changing who a person is or how to reach them needs scope over all their establishments."""
    establishments = _person_establishments(person)
    return bool(establishments) and all(can(actor, Perm.MANAGE_PEOPLE, e) for e in establishments)


def person_update(*, actor: Actor, person: Person, data: dict[str, Any]) -> Person:
    """Change a person's details. A person shared by several establishments is one record
    (their crisis alerts go to these addresses everywhere): only someone with scope over
    every one of them may change it, and the change is audited under each of them."""
    establishments = _person_establishments(person)
    _require(any(can(actor, Perm.MANAGE_PEOPLE, e) for e in establishments))
    before = snapshot(Person.objects.get(pk=person.pk))
    _assign(person, data, PERSON_FIELDS)
    changes = diff(before, snapshot(person))
    if not changes:
        return person
    if not all(can(actor, Perm.MANAGE_PEOPLE, e) for e in establishments):
        person.refresh_from_db()
        raise SharedPersonDenied(shared_person_denial(establishments))
    _validate_unique_email(person, actor=actor, establishments=establishments)
    _validate(person)
    changes = diff(before, snapshot(person))
    if not changes:
        return person
    with transaction.atomic():
        person.save()
        for establishment in establishments:
            audit_record(actor=actor, action="person.update", obj=person, establishment=establishment,
                         changes=changes)
    return person


def person_delete(*, actor: Actor, person: Person) -> bool:
    """Remove the person from every establishment the actor manages; delete the record
    when nothing else holds it. Returns True when the record itself was deleted. Removing
    a shared person from one's own establishments leaves the record and their other
    functions alone; each removal is audited under the establishment it concerns."""
    establishments = _person_establishments(person)
    managed = [e for e in establishments if can(actor, Perm.MANAGE_PEOPLE, e)]
    _require(bool(managed))
    with transaction.atomic():
        Membership.objects.filter(person=person, establishment__in=managed).delete()
        deleted = len(managed) == len(establishments)
        for establishment in managed:
            audit_record(
                actor=actor, action="person.delete" if deleted else "person.remove", obj=person,
                establishment=establishment, changes=diff(snapshot(person), {}) if deleted else {
                    "establishments": [[e.finess for e in managed], None]
                },
            )
        if deleted:
            person.delete()
    return deleted


def membership_add(*, actor: Actor, person: Person, spec: MembershipSpec) -> Membership:
    _validate_memberships(actor, [spec])
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(
            person=person, establishment=spec.establishment, function=spec.function,
            defaults={"department": spec.department},
        )
        if not created and membership.department_id != (spec.department.pk if spec.department else None):
            membership.department = spec.department
            membership.save(update_fields=["department"])
        audit_record(
            actor=actor, action="membership.add", obj=membership, establishment=spec.establishment,
            changes={"function": [None, spec.function]},
        )
    return membership


def membership_remove(*, actor: Actor, membership: Membership) -> None:
    _require(can(actor, Perm.MANAGE_PEOPLE, membership.establishment))
    if not Membership.objects.filter(person_id=membership.person_id).exclude(pk=membership.pk).exists():
        raise ValidationError(
            _("This is the person's last function: delete the person instead of leaving them nowhere.")
        )
    with transaction.atomic():
        audit_record(
            actor=actor, action="membership.remove", obj=membership, establishment=membership.establishment,
            changes={"function": [membership.function, None]},
        )
        membership.delete()
