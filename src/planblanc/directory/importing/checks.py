"""Checking each row of a file against the directory as it stands, without writing."""


from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models.functions import Lower
from django.utils import translation
from django.utils.translation import gettext as _

from planblanc.actors import Actor
from planblanc.core.tabular import norm
from planblanc.directory.importing.columns import (
    CHUNK,
    COLUMNS,
    ESTABLISHMENT_VALUE_FIELDS,
    KIND_PERM,
    PERSON_VALUE_FIELDS,
)
from planblanc.directory.models import (
    Department,
    Establishment,
    EstablishmentCategory,
    Function,
    Group,
    ImportBatch,
    ImportKind,
    Language,
    Person,
    Region,
)
from planblanc.directory.services import shared_person_denial
from planblanc.directory.validators import finess_validate, phone_normalize
from planblanc.tenancy import Perm, Scope, scope_for

# Values -------------------------------------------------------------------------------

TRUE_WORDS = {"oui", "o", "yes", "y", "true", "vrai", "1", "x"}
FALSE_WORDS = {"non", "n", "no", "false", "faux", "0", ""}

# Words people write in French files for functions, besides codes and labels.
FUNCTION_SYNONYMS: dict[str, Any] = {
    "directeur": Function.DIRECTOR, "directrice": Function.DIRECTOR, "directeur general": Function.DIRECTOR,
    "directeur adjoint": Function.DEPUTY_DIRECTOR, "directrice adjointe": Function.DEPUTY_DIRECTOR,
    "rssi": Function.CISO, "dpo": Function.DPO, "dpd": Function.DPO, "dsi": Function.IT_DIRECTOR,
    "directeur medical": Function.MEDICAL_DIRECTOR, "president de cme": Function.MEDICAL_DIRECTOR,
    "directeur des soins": Function.NURSING_DIRECTOR, "directrice des soins": Function.NURSING_DIRECTOR,
    "communication": Function.COMMUNICATION, "cadre d astreinte": Function.ON_CALL_MANAGER,
    "astreinte de direction": Function.ON_CALL_MANAGER, "chef de service": Function.DEPARTMENT_HEAD,
    "cellule de crise": Function.CRISIS_CELL, "membre de la cellule de crise": Function.CRISIS_CELL,
    "informatique": Function.IT_STAFF, "agent": Function.STAFF, "personnel": Function.STAFF,
}


def _choice_index(choices: Any, synonyms: dict[str, Any] | None = None) -> dict[str, str]:
    """Codes and labels in both languages, and the abbreviation in brackets ('CISO (RSSI)')."""
    index: dict[str, str] = {norm(k): v for k, v in (synonyms or {}).items()}
    for language in ("en", "fr"):
        with translation.override(language):
            for value, label in choices.choices:
                text = str(label)
                names = [value, text, *re.findall(r"\(([^)]*)\)", text), re.sub(r"\([^)]*\)", "", text)]
                for name in names:
                    if norm(name):
                        index.setdefault(norm(name), value)
    return index


def _parse_bool(text: str) -> bool | None:
    word = norm(text)
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def _finess_from_cell(text: str) -> str:
    # A spreadsheet that took the number for a number dropped its leading zero.
    digits = text.replace(" ", "")
    if digits.isdigit() and len(digits) == 8:
        return "0" + digits
    return text


def _messages(exc: ValidationError) -> list[str]:
    return list(exc.messages)


@dataclass
class RowCheck:
    """The outcome of one line: its problems, or what it means once normalised."""

    line: int
    problems: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


def chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


class _Checker:
    """Validates the rows of one file against the directory; subclasses per kind."""

    kind: Any

    def __init__(self, *, actor: Actor, labels: dict[str, str], establishment: Establishment | None) -> None:
        self.actor = actor
        self.labels = labels
        self.establishment = establishment
        self.scope: Scope = scope_for(actor, KIND_PERM[self.kind])

    def label(self, key: str) -> str:
        if key in self.labels:
            return self.labels[key]
        return next(column.header for column in COLUMNS[self.kind] if column.key == key)

    def problem(self, check: RowCheck, key: str | None, message: str) -> None:
        check.problems.append(f"{self.label(key)} : {message}" if key else message)

    def model_problems(self, check: RowCheck, instance: Any, exclude: list[str]) -> None:
        try:
            instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                key = name if name in {c.key for c in COLUMNS[self.kind]} else None
                for message in messages:
                    self.problem(check, key, message)

    def check_all(self, rows: list[dict[str, Any]]) -> list[RowCheck]:
        raise NotImplementedError


class _EstablishmentChecker(_Checker):
    kind = ImportKind.ESTABLISHMENTS

    def check_all(self, rows: list[dict[str, Any]]) -> list[RowCheck]:
        finesses = []
        for row in rows:
            with contextlib.suppress(ValidationError):
                finesses.append(finess_validate(_finess_from_cell(row["cells"].get("finess", ""))))
        self.existing = {
            e.finess: e for chunk in chunks(sorted(set(finesses)))
            for e in Establishment.objects.filter(finess__in=chunk)
        }
        self.regions: dict[str, Region] = {}
        for region in Region.objects.all():
            self.regions.setdefault(norm(region.code), region)
            self.regions.setdefault(norm(region.name), region)
        self.groups: dict[str, Group] = {}
        self.group_regions: dict[int, int] = {}
        for group in Group.objects.all():
            self.group_regions[group.pk] = group.region_id
            self.groups.setdefault(norm(group.code), group)
            self.groups.setdefault(norm(group.name), group)
        self.categories = _choice_index(EstablishmentCategory)
        seen: dict[str, int] = {}
        checks = []
        for row in rows:
            check = self.check_row(row)
            finess = check.values.get("finess")
            if finess:
                if finess in seen:
                    self.problem(check, "finess", _("Same FINESS number as line %(line)d.") % {"line": seen[finess]})
                else:
                    seen[finess] = row["line"]
            checks.append(check)
        return checks

    def check_row(self, row: dict[str, Any]) -> RowCheck:
        cells: dict[str, str] = row["cells"]
        check = RowCheck(line=row["line"])
        values: dict[str, Any] = {}
        try:
            check.values["finess"] = finess_validate(_finess_from_cell(cells.get("finess", "")))
        except ValidationError as exc:
            for message in _messages(exc):
                self.problem(check, "finess", message)
        existing = self.existing.get(check.values.get("finess", ""))
        for key in ("name", "address", "postal_code", "city"):
            if key in cells:
                values[key] = cells[key]
        if "postal_code" in values and values["postal_code"].isdigit() and len(values["postal_code"]) == 4:
            values["postal_code"] = "0" + values["postal_code"]  # 01000 read as a number
        if "category" in cells:
            category = self.categories.get(norm(cells["category"]))
            if category is None:
                self.problem(check, "category", _("Unknown category “%(value)s”. Expected one of: %(choices)s.") % {
                    "value": cells["category"], "choices": ", ".join(EstablishmentCategory.values)})
            else:
                values["category"] = category
        if "region" in cells:
            region = self.regions.get(norm(cells["region"]))
            if region is None:
                self.problem(check, "region", _("Unknown region “%(value)s” (give its code or its name).")
                             % {"value": cells["region"]})
            else:
                values["region_id"] = region.pk
        if "group" in cells:
            if not cells["group"]:
                values["group_id"] = None
            elif (group := self.groups.get(norm(cells["group"]))) is None:
                self.problem(check, "group", _("Unknown hospital group “%(value)s” (give its code or its name).")
                             % {"value": cells["group"]})
            else:
                values["group_id"] = group.pk
        for key in ("is_priority", "is_essential_operator"):
            if key in cells:
                flag = _parse_bool(cells[key])
                if flag is None:
                    self.problem(check, key, _("“%(value)s” is neither yes nor no.") % {"value": cells[key]})
                else:
                    values[key] = flag
        if "switchboard_phone" in cells:
            try:
                values["switchboard_phone"] = phone_normalize(cells["switchboard_phone"])
            except ValidationError as exc:
                for message in _messages(exc):
                    self.problem(check, "switchboard_phone", message)
        if check.problems:
            return check
        region_id = values.get("region_id", existing.region_id if existing else None)
        group_id = values.get("group_id", existing.group_id if existing else None)
        if group_id is not None and self.group_regions[group_id] != region_id:
            self.problem(check, "group", _("This hospital group belongs to another region."))
            return check
        if existing is not None and not self.scope.covers(existing):
            self.problem(check, "finess", _("This FINESS number belongs to an establishment outside your scope."))
            return check
        moves = existing is None or region_id != existing.region_id or group_id != existing.group_id
        if moves and not (
            self.scope.national or region_id in self.scope.region_ids
            or (group_id is not None and group_id in self.scope.group_ids)
        ):
            self.problem(check, "region", _("You may only create or move establishments within your own region or group."))
            return check
        instance = Establishment(finess=check.values["finess"])
        if existing is not None:
            for name in ESTABLISHMENT_VALUE_FIELDS:
                setattr(instance, name, getattr(existing, name))
        for name, value in values.items():
            setattr(instance, name, value)
        self.model_problems(check, instance, exclude=["finess", "region", "group", "switchboard_phone"])
        check.values.update(values)
        check.values["existing_id"] = existing.pk if existing else None
        return check


class _PersonChecker(_Checker):
    kind = ImportKind.PEOPLE

    def check_all(self, rows: list[dict[str, Any]]) -> list[RowCheck]:
        finesses, emails, last_names = set(), set(), set()
        for row in rows:
            cells = row["cells"]
            with contextlib.suppress(ValidationError):
                finesses.add(finess_validate(_finess_from_cell(cells.get("finess", ""))))
            if cells.get("email"):
                emails.add(cells["email"].strip().lower())
            elif cells.get("last_name"):
                last_names.add(cells["last_name"].strip().lower())
        if self.establishment is not None:
            finesses.add(self.establishment.finess)
        self.establishments = {
            e.finess: e for chunk in chunks(sorted(finesses))
            for e in Establishment.objects.filter(finess__in=chunk)
        }
        self.departments: dict[tuple[int, str], Department] = {
            (d.establishment_id, norm(d.name)): d
            for chunk in chunks([e.pk for e in self.establishments.values()])
            for d in Department.objects.filter(establishment_id__in=chunk)
        }
        self.people_by_email: dict[str, Person] = {}
        for chunk in chunks(sorted(emails)):
            for person in (
                # Only the importer's people: an address used in another tenant is
                # someone else's record, matched to nothing and never mentioned.
                Person.objects.visible_to(self.actor, Perm.MANAGE_PEOPLE)
                .annotate(email_lower=Lower("email")).filter(email_lower__in=chunk)
                .prefetch_related("memberships__establishment")
            ):
                self.people_by_email[person.email.lower()] = person
        # People without an email are matched by name and mobile, among those the importer manages.
        self.people_by_name: dict[tuple[str, str, str], list[Person]] = {}
        for chunk in chunks(sorted(last_names)):
            for person in (
                Person.objects.visible_to(self.actor, Perm.MANAGE_PEOPLE).filter(email="")
                .annotate(last_lower=Lower("last_name")).filter(last_lower__in=chunk)
            ):
                key = (person.last_name.lower(), person.first_name.lower(), person.mobile_phone)
                self.people_by_name.setdefault(key, []).append(person)
        self.functions = _choice_index(Function, FUNCTION_SYNONYMS)
        self.languages = _choice_index(Language, {"francais": "fr", "anglais": "en"})
        first_seen: dict[tuple[str, ...], RowCheck] = {}
        seen_functions: dict[tuple[Any, ...], int] = {}
        checks = []
        for row in rows:
            check = self.check_row(row)
            checks.append(check)
            identity = check.values["identity"]
            if identity[0] == "name" and not identity[1]:
                continue  # no email and no name: nothing to compare
            first = first_seen.get(identity)
            if first is None:
                first_seen[identity] = check
            elif self.compare_with_first(check, first):
                continue
            membership = (identity, check.values["establishment_id"], check.values["function"])
            if None in membership:
                continue
            if membership in seen_functions:
                self.problem(check, None, _("Same person, establishment and function as line %(line)d.")
                             % {"line": seen_functions[membership]})
            else:
                seen_functions[membership] = check.line
        return checks

    def compare_with_first(self, check: RowCheck, first: RowCheck) -> bool:
        """A later line of the same email must be the same person, with the same details.
        True when it is not (the problem is recorded)."""
        mine, theirs = check.values["person"], first.values["person"]
        if (norm(mine.get("last_name", "")), norm(mine.get("first_name", ""))) != (
            norm(theirs.get("last_name", "")), norm(theirs.get("first_name", ""))
        ):
            self.problem(check, "email", _("This email address is already used on line %(line)d by %(name)s.")
                         % {"line": first.line,
                            "name": f"{theirs.get('first_name', '')} {theirs.get('last_name', '')}".strip()})
            return True
        different = [self.label(key) for key in PERSON_VALUE_FIELDS if mine.get(key) != theirs.get(key)]
        if different:
            self.problem(check, None, _(
                "Line %(line)d gives other details for the same person (%(columns)s): make the lines agree."
            ) % {"line": first.line, "columns": ", ".join(different)})
            return True
        return False

    def manages(self, person: Person) -> bool:
        return any(self.scope.covers(m.establishment) for m in person.memberships.all())

    def manages_all(self, person: Person) -> bool:
        return all(self.scope.covers(m.establishment) for m in person.memberships.all())

    def check_row(self, row: dict[str, Any]) -> RowCheck:
        cells: dict[str, str] = row["cells"]
        check = RowCheck(line=row["line"])
        person: dict[str, Any] = {}
        for key in ("first_name", "last_name", "job_title"):
            if key in cells:
                person[key] = cells[key]
        if "email" in cells:
            person["email"] = cells["email"].strip().lower()
        for key in ("mobile_phone", "landline_phone"):
            if key in cells:
                try:
                    person[key] = phone_normalize(cells[key])
                except ValidationError as exc:
                    for message in _messages(exc):
                        self.problem(check, key, message)
        if "preferred_language" in cells:
            language = self.languages.get(norm(cells["preferred_language"]) or "fr")
            if language is None:
                self.problem(check, "preferred_language", _("Unknown language “%(value)s” (fr or en).")
                             % {"value": cells["preferred_language"]})
            else:
                person["preferred_language"] = language
        establishment = self.row_establishment(check, cells)
        function = self.functions.get(norm(cells.get("function", "")))
        if function is None:
            self.problem(check, "function", _("Unknown function “%(value)s”. Expected one of: %(choices)s.") % {
                "value": cells.get("function", ""), "choices": ", ".join(Function.values)})
        department: Department | None = None
        if establishment is not None and cells.get("department"):
            department = self.departments.get((establishment.pk, norm(cells["department"])))
            if department is None:
                self.problem(check, "department", _(
                    "No department “%(name)s” in %(establishment)s: create it first or leave the cell empty."
                ) % {"name": cells["department"], "establishment": establishment.name})
        instance = Person(**{k: v for k, v in person.items() if k not in {"mobile_phone", "landline_phone"}})
        self.model_problems(check, instance, exclude=["user", "mobile_phone", "landline_phone"])
        # What is known of the line is kept even when it is bad, so that duplicates are
        # reported on every line they touch, alongside the line's other problems.
        if person.get("email"):
            identity: tuple[str, ...] = ("email", person["email"])
        else:
            identity = (
                "name", person.get("last_name", "").lower(), person.get("first_name", "").lower(),
                person.get("mobile_phone", ""),
            )
        check.values = {"identity": identity, "person": person, "function": function,
                        "establishment_id": establishment.pk if establishment else None}
        if "department" in cells:
            check.values["department_id"] = department.pk if department else None
        existing: Person | None = None
        if identity[0] == "email":
            existing = self.people_by_email.get(person["email"])
            if existing is not None and not self.manages(existing):
                self.problem(check, "email", _("Another person already uses this email address."))
        else:
            matches = self.people_by_name.get(identity[1:], [])  # type: ignore[arg-type]
            if len(matches) > 1:
                self.problem(check, None, _(
                    "Several people in your establishments have this name and no email address: "
                    "add their email address to tell them apart."
                ))
            existing = matches[0] if len(matches) == 1 else None
        if existing is not None and not self.manages_all(existing) and any(
            key in person and person[key] != (getattr(existing, key) or "") for key in PERSON_VALUE_FIELDS
        ):
            self.problem(check, None, shared_person_denial(
                [m.establishment for m in existing.memberships.all()]))
        check.values["existing_id"] = existing.pk if existing else None
        return check

    def row_establishment(self, check: RowCheck, cells: dict[str, str]) -> Establishment | None:
        if not cells.get("finess") and self.establishment is not None:
            return self.establishment
        try:
            finess = finess_validate(_finess_from_cell(cells.get("finess", "")))
        except ValidationError as exc:
            for message in _messages(exc):
                self.problem(check, "finess", message)
            return None
        establishment = self.establishments.get(finess)
        # One message whether it does not exist or is someone else's: no leak.
        if establishment is None or not self.scope.covers(establishment):
            self.problem(check, "finess", _("No establishment with FINESS number %(finess)s in your scope.")
                         % {"finess": finess})
            return None
        if self.establishment is not None and establishment.pk != self.establishment.pk:
            self.problem(check, "finess", _("This import is for %(name)s only; this line names another establishment.")
                         % {"name": self.establishment.name})
            return None
        return establishment


CHECKERS: dict[Any, type[_Checker]] = {
    ImportKind.ESTABLISHMENTS: _EstablishmentChecker,
    ImportKind.PEOPLE: _PersonChecker,
}


def import_check(*, actor: Actor, batch: ImportBatch) -> list[RowCheck]:
    """Validate a batch's rows against the directory as it is now."""
    checker = CHECKERS[batch.kind](actor=actor, labels=dict(batch.columns), establishment=batch.establishment)
    return checker.check_all(batch.rows)


def errors_of(checks: list[RowCheck]) -> list[dict[str, Any]]:
    return [{"line": check.line, "messages": check.problems} for check in checks if check.problems]
