"""Writing the good rows of a confirmed batch, with one audit entry."""


from __future__ import annotations

from typing import Any

from django.utils import timezone

from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
from planblanc.core import staging
from planblanc.directory.importing.checks import RowCheck, chunks
from planblanc.directory.importing.columns import (
    ESTABLISHMENT_VALUE_FIELDS,
    PERSON_VALUE_FIELDS,
    STAGING_PURPOSE,
)
from planblanc.directory.models import (
    Establishment,
    ImportBatch,
    ImportKind,
    ImportStatus,
    Membership,
    Person,
)


def import_write(*, actor: Actor, batch: ImportBatch, good: list[RowCheck], errors: list[dict[str, Any]]) -> dict[str, Any]:
    present = {key for key, _label in batch.columns}
    if batch.kind == ImportKind.ESTABLISHMENTS:
        outcome = _apply_establishments(good, present)
    else:
        outcome = _apply_people(good, present)
    summary = {
        **batch.summary,
        **{k: v for k, v in outcome.items() if not isinstance(v, list) and k != "first_establishment_id"},
        "imported_lines": len(good), "skipped_lines": len(errors),
    }
    # The entry hangs from an establishment so that its administrators see it in their audit log.
    establishment = batch.establishment or Establishment.objects.filter(pk=outcome["first_establishment_id"]).first()
    outcome.pop("first_establishment_id")
    audit_record(
        actor=actor, action=f"directory.import_{batch.kind}", obj=batch, establishment=establishment,
        label=str(batch),
        changes={
            "file": [None, batch.filename], "sha256": [None, batch.sha256],
            "lines": [None, batch.row_count], "imported_lines": [None, len(good)],
            "skipped_lines": [None, [e["line"] for e in errors]],
            **{key: [None, value] for key, value in outcome.items()},
        },
    )
    batch.status = ImportStatus.APPLIED
    batch.applied_at = timezone.now()
    batch.summary = summary
    staged_id = batch.staged_id
    batch.staged = None
    batch.save(update_fields=["status", "applied_at", "summary", "staged"])
    staging.staged_upload_delete(owner=actor, purpose=STAGING_PURPOSE, pk=staged_id)
    return summary


def _apply_establishments(good: list[RowCheck], present: set[str]) -> dict[str, Any]:
    fields = [
        name for name in ESTABLISHMENT_VALUE_FIELDS if name.removesuffix("_id") in present or name in present
    ]
    existing_ids = [check.values["existing_id"] for check in good if check.values["existing_id"]]
    existing = {e.pk: e for chunk in chunks(existing_ids) for e in Establishment.objects.filter(pk__in=chunk)}
    to_create: list[Establishment] = []
    to_update: list[Establishment] = []
    unchanged = 0
    for check in good:
        values = {name: check.values[name] for name in fields if name in check.values}
        if check.values["existing_id"]:
            establishment = existing[check.values["existing_id"]]
            changed = {name for name, value in values.items() if getattr(establishment, name) != value}
            if not changed:
                unchanged += 1
                continue
            for name in changed:
                setattr(establishment, name, values[name])
            to_update.append(establishment)
        else:
            to_create.append(Establishment(finess=check.values["finess"], **values))
    Establishment.objects.bulk_create(to_create, batch_size=500)
    if to_update:
        now = timezone.now()
        for establishment in to_update:
            establishment.updated_at = now
        Establishment.objects.bulk_update(to_update, [*fields, "updated_at"], batch_size=500)
    return {
        "created": len(to_create), "updated": len(to_update), "unchanged": unchanged,
        "created_finess": [e.finess for e in to_create], "updated_finess": [e.finess for e in to_update],
        "first_establishment_id": (
            good[0].values["existing_id"]
            or next(e.pk for e in to_create if e.finess == good[0].values["finess"])
        ),
    }


def _apply_people(good: list[RowCheck], present: set[str]) -> dict[str, Any]:
    fields = [name for name in PERSON_VALUE_FIELDS if name in present]
    existing_ids = sorted({check.values["existing_id"] for check in good if check.values["existing_id"]})
    existing = {p.pk: p for chunk in chunks(existing_ids) for p in Person.objects.filter(pk__in=chunk)}
    people: dict[tuple[str, ...], Person] = {}
    to_create: list[Person] = []
    to_update: list[Person] = []
    unchanged = 0
    for check in good:
        identity = check.values["identity"]
        if identity in people:
            continue
        values = {name: check.values["person"][name] for name in fields if name in check.values["person"]}
        if check.values["existing_id"]:
            person = existing[check.values["existing_id"]]
            changed = {name for name, value in values.items() if getattr(person, name) != value}
            for name in changed:
                setattr(person, name, values[name])
            if changed:
                to_update.append(person)
            else:
                unchanged += 1
        else:
            person = Person(**values)
            to_create.append(person)
        people[identity] = person
    Person.objects.bulk_create(to_create, batch_size=500)
    if to_update:
        now = timezone.now()
        for person in to_update:
            person.updated_at = now
        Person.objects.bulk_update(to_update, [*fields, "updated_at"], batch_size=500)
    person_ids = [p.pk for p in people.values()]
    memberships = {
        (m.person_id, m.establishment_id, m.function): m
        for chunk in chunks(person_ids) for m in Membership.objects.filter(person_id__in=chunk)
    }
    new_memberships: list[Membership] = []
    moved: list[Membership] = []
    for check in good:
        person = people[check.values["identity"]]
        key = (person.pk, check.values["establishment_id"], check.values["function"])
        membership = memberships.get(key)
        if membership is None:
            membership = Membership(
                person=person, establishment_id=check.values["establishment_id"], function=check.values["function"],
                department_id=check.values.get("department_id"),
            )
            memberships[key] = membership
            new_memberships.append(membership)
        elif "department_id" in check.values and membership.department_id != check.values["department_id"]:
            membership.department_id = check.values["department_id"]
            moved.append(membership)
    Membership.objects.bulk_create(new_memberships, batch_size=500)
    if moved:
        Membership.objects.bulk_update(moved, ["department"], batch_size=500)
    return {
        "created": len(to_create), "updated": len(to_update), "unchanged": unchanged,
        "functions_added": len(new_memberships), "departments_changed": len(moved),
        "created_ids": [p.pk for p in to_create], "updated_ids": [p.pk for p in to_update],
        "first_establishment_id": good[0].values["establishment_id"],
    }
