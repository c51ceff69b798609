"""Import of establishments and people from CSV or XLSX (« import de l'annuaire »).

The pipeline, in order:

1. `read_table` turns the uploaded bytes into a header and rows, each with the line number
   a spreadsheet shows (the header is line 1). CSV in UTF-8 (with or without BOM) or
   Windows-1252, `;` `,` or tab detected from the header line; XLSX: the first sheet.
2. `match_columns` maps header cells to our columns, whatever the case, accents or
   language ("Prénom", "first name", "PRENOM" are the same column).
3. `directory_import_upload` validates every row against the directory as it stands and
   stores the batch (ImportBatch): nothing is written to the directory.
4. `directory_import_apply` validates the rows again (the directory may have changed
   since the preview) and writes them in one transaction with one audit entry — only
   when the file is clean, or when the user asked to import only the good rows.

Rules of the import:
- Establishments are created or updated by FINESS number; people by email address (or,
  for people without one, by first name, last name and mobile phone within the
  importer's scope). An import adds and updates, it never deletes.
- A column that is absent leaves that field alone; a cell that is empty in a present
  column empties the field (the file is taken as the truth for what it carries).
- People files hold one line per function: a person with two functions appears on two
  lines with the same email and the same details. The same email with another name or
  other details is an error, and so is a repeated line.
- The importer only creates and updates inside their own scope (tenancy.py): MANAGE_PEOPLE
  over the establishment of each person line, MANAGE_ESTABLISHMENTS over each
  establishment (and over its region or group to create or move one).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.http import Http404
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
from planblanc.core import staging, tabular
from planblanc.core.tabular import norm
from planblanc.directory.models import (
    Department,
    Establishment,
    EstablishmentCategory,
    Function,
    Group,
    ImportBatch,
    ImportKind,
    ImportStatus,
    Language,
    Membership,
    Person,
    Region,
)
from planblanc.directory.services import shared_person_denial
from planblanc.directory.validators import finess_validate, phone_normalize
from planblanc.tenancy import Perm, Scope, has_perm_somewhere, scope_for

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
# Spreadsheets sometimes carry thousands of empty formatted columns; ours need a dozen.
MAX_COLUMNS = 60
# How far below the first line the header may be found (under a title line or two).
HEADER_SEARCH_LINES = 5
# Enough values per IN (…) to keep round trips few, few enough for SQLite's limit.
CHUNK = 900

STAGING_PURPOSE = "directory-import"

KIND_PERM: dict[Any, Perm] = {ImportKind.ESTABLISHMENTS: Perm.MANAGE_ESTABLISHMENTS, ImportKind.PEOPLE: Perm.MANAGE_PEOPLE}


# Columns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of an import file. `header` is what the export writes (a file format,
    so it does not change with the interface language); `aliases` are the other names
    accepted on import, compared without case, accents or punctuation."""

    key: str
    header: str
    aliases: tuple[str, ...] = ()
    required: bool = False


ESTABLISHMENT_COLUMNS: tuple[Column, ...] = (
    Column("finess", "FINESS", ("n finess", "no finess", "numero finess", "finess number", "finess et",
                                "finess etablissement", "finess établissement"), required=True),
    Column("name", "Nom", ("name", "raison sociale", "etablissement", "establishment", "nom etablissement",
                           "denomination", "establishment name"), required=True),
    Column("category", "Catégorie", ("category", "type", "categorie etablissement"), required=True),
    Column("region", "Région", ("region", "ars", "code region", "region code"), required=True),
    Column("group", "GHT", ("group", "groupe", "hospital group", "code ght", "groupement hospitalier de territoire")),
    Column("is_priority", "Prioritaire", ("priority", "priorite", "priority establishment",
                                          "etablissement prioritaire")),
    Column("is_essential_operator", "OSE", ("essential operator", "essential services operator",
                                            "operateur de services essentiels")),
    Column("address", "Adresse", ("address", "adresse postale", "street")),
    Column("postal_code", "Code postal", ("postal code", "postcode", "zip", "zip code", "cp")),
    Column("city", "Ville", ("city", "commune", "town")),
    Column("switchboard_phone", "Standard", ("switchboard", "switchboard phone", "telephone standard",
                                             "telephone", "phone", "tel")),
)

PERSON_COLUMNS: tuple[Column, ...] = (
    Column("last_name", "Nom", ("last name", "nom de famille", "surname", "family name", "nom d usage"),
           required=True),
    Column("first_name", "Prénom", ("first name", "given name", "firstname", "prenoms"),
           required=True),
    Column("job_title", "Métier", ("job", "job title", "poste", "intitule de poste", "emploi")),
    Column("email", "Email", ("e mail", "courriel", "mail", "adresse electronique", "adresse mail",
                              "email address", "adresse e mail")),
    Column("mobile_phone", "Mobile", ("mobile phone", "portable", "telephone portable", "tel portable",
                                      "telephone mobile", "cell phone", "gsm")),
    Column("landline_phone", "Fixe", ("landline", "landline phone", "telephone fixe", "tel fixe", "ligne fixe",
                                      "poste fixe")),
    Column("preferred_language", "Langue", ("language", "preferred language", "langue preferee")),
    Column("finess", "FINESS établissement", ("finess", "establishment finess", "n finess", "no finess",
                                              "finess etablissement", "etablissement finess", "finess et"),
           required=True),
    Column("department", "Service", ("department", "unite", "unit", "service hospitalier")),
    Column("function", "Fonction", ("function", "role", "fonction role", "role in the establishment"),
           required=True),
)

COLUMNS: dict[Any, tuple[Column, ...]] = {
    ImportKind.ESTABLISHMENTS: ESTABLISHMENT_COLUMNS,
    ImportKind.PEOPLE: PERSON_COLUMNS,
}

PERSON_VALUE_FIELDS = (
    "first_name", "last_name", "job_title", "email", "mobile_phone", "landline_phone", "preferred_language",
)
ESTABLISHMENT_VALUE_FIELDS = (
    "name", "category", "region_id", "group_id", "is_priority", "is_essential_operator",
    "address", "postal_code", "city", "switchboard_phone",
)


def _column_index(kind: str) -> dict[str, Column]:
    index: dict[str, Column] = {}
    for column in COLUMNS[kind]:
        for name in (column.header, column.key.replace("_", " "), *column.aliases):
            index.setdefault(norm(name), column)
    return index


# Reading files ------------------------------------------------------------------------


@dataclass
class Table:
    header: list[str]
    header_line: int
    rows: list[tuple[int, list[str]]]  # (line number as a spreadsheet shows it, cells)


def _file_error(message: str) -> ValidationError:
    return ValidationError(message, code="bad_file")


# Rows are bounded by index (title lines above the header included), then by count.
LIMITS = tabular.Limits(max_bytes=MAX_BYTES, max_rows=MAX_ROWS + 1 + HEADER_SEARCH_LINES, max_columns=MAX_COLUMNS,
                        max_cell_chars=2_000)


def read_table(*, filename: str, content: bytes) -> Table:
    """The file's header and rows (empty lines left out), or a ValidationError saying what
    is wrong with the file (tabular.FileRefused)."""
    sheet = tabular.read_table(filename=filename, content=content, limits=LIMITS)
    if not sheet.rows:
        raise _file_error(_("The file is empty."))
    (header_line, header), *rows = sheet.rows
    if len(rows) > MAX_ROWS:
        raise _file_error(
            _("The file has more than %(max)s lines: split it into several files.")
            % {"max": formats.number_format(MAX_ROWS, force_grouping=True)}
        )
    return Table(header=header, header_line=header_line, rows=rows)


@dataclass
class ColumnMatch:
    keys: dict[int, str]  # position in the file → column key
    labels: dict[str, str]  # column key → the header as written in the file
    ignored: list[str]


def match_columns(*, kind: str, header: list[str], optional: Iterable[str] = ()) -> ColumnMatch:
    index = _column_index(kind)
    keys: dict[int, str] = {}
    labels: dict[str, str] = {}
    ignored: list[str] = []
    for position, text in enumerate(header):
        column = index.get(norm(text))
        if column is None:
            if text:
                ignored.append(text)
            continue
        if column.key in labels:
            raise _file_error(
                _("Two columns mean the same thing: “%(first)s” and “%(second)s”. Keep only one.")
                % {"first": labels[column.key], "second": text}
            )
        keys[position] = column.key
        labels[column.key] = text
    expected = ", ".join(column.header for column in COLUMNS[kind])
    if not keys:
        raise _file_error(
            _("No known column in the first line of the file. Expected columns: %(columns)s.") % {"columns": expected}
        )
    missing = [
        column.header for column in COLUMNS[kind]
        if column.required and column.key not in labels and column.key not in set(optional)
    ]
    if missing:
        raise _file_error(
            _("Missing columns: %(missing)s. Expected columns: %(columns)s.")
            % {"missing": ", ".join(missing), "columns": expected}
        )
    return ColumnMatch(keys=keys, labels=labels, ignored=ignored)


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


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
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
            e.finess: e for chunk in _chunks(sorted(set(finesses)))
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
            e.finess: e for chunk in _chunks(sorted(finesses))
            for e in Establishment.objects.filter(finess__in=chunk)
        }
        self.departments: dict[tuple[int, str], Department] = {
            (d.establishment_id, norm(d.name)): d
            for chunk in _chunks([e.pk for e in self.establishments.values()])
            for d in Department.objects.filter(establishment_id__in=chunk)
        }
        self.people_by_email: dict[str, Person] = {}
        for chunk in _chunks(sorted(emails)):
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
        for chunk in _chunks(sorted(last_names)):
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


def _errors_of(checks: list[RowCheck]) -> list[dict[str, Any]]:
    return [{"line": check.line, "messages": check.problems} for check in checks if check.problems]


# Services -----------------------------------------------------------------------------


def _require_perm(actor: Actor, kind: str, establishment: Establishment | None) -> None:
    perm = KIND_PERM[kind]
    allowed = (
        scope_for(actor, perm).covers(establishment) if establishment is not None
        else has_perm_somewhere(actor, perm)
    )
    if not allowed:
        raise PermissionDenied(_("You are not allowed to make this change."))


def _find_header(kind: str, table: Table) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header line: the first one, unless a title sits above it (as in many exports
    from HR software): then the first of the next lines that names two of our columns."""
    index = _column_index(kind)
    candidates = [(table.header_line, table.header), *table.rows[:HEADER_SEARCH_LINES]]
    for position, (_line, cells) in enumerate(candidates):
        if sum(1 for cell in cells if norm(cell) in index) >= 2:
            return cells, table.rows[position:]
    return table.header, table.rows


def directory_import_upload(
    *, actor: Actor, kind: str, filename: str, content: bytes, establishment: Establishment | None = None
) -> ImportBatch:
    """Read and check a file; store it as a pending batch for its preview. Writes nothing
    to the directory. A file that cannot be read raises ValidationError and stores nothing."""
    if kind not in ImportKind.values:
        raise ValidationError(_("Unknown kind of import."))
    _require_perm(actor, kind, establishment)
    table = read_table(filename=filename, content=content)
    optional = ["finess"] if kind == ImportKind.PEOPLE and establishment is not None else []
    header, data = _find_header(kind, table)
    match = match_columns(kind=kind, header=header, optional=optional)
    rows = []
    for line, cells in data:
        row = {key: cells[position] if position < len(cells) else ""
               for position, key in match.keys.items()}
        rows.append({"line": line, "cells": row})
    if not rows:
        raise _file_error(_("The file has a header line but no data lines."))
    batch = ImportBatch(
        kind=kind, uploaded_by=actor, establishment=establishment, filename=filename[:255],
        sha256=hashlib.sha256(content).hexdigest(), columns=list(match.labels.items()),
        row_count=len(rows), summary={"ignored_columns": match.ignored},
    )
    errors = _errors_of(CHECKERS[batch.kind](
        actor=actor, labels=dict(batch.columns), establishment=batch.establishment).check_all(rows))
    with transaction.atomic():
        batch.staged = staging.staged_upload_create(
            owner=actor, purpose=STAGING_PURPOSE, filename=filename, payload={"rows": rows}, replace=False)
        batch.errors = errors
        batch.save()
    return batch


def _expire_stale(user: Any) -> None:
    """Pending batches whose staged rows expired (and were purged) count as cancelled."""
    staging.staged_upload_purge()
    ImportBatch.objects.filter(
        uploaded_by_id=getattr(user, "pk", None), status=ImportStatus.PENDING, staged__isnull=True
    ).update(status=ImportStatus.CANCELLED, errors=[])


def import_batch_for_user(*, user: Any, pk: int, pending: bool = False) -> ImportBatch:
    """A batch is its uploader's alone: anyone else gets a 404."""
    _expire_stale(user)
    queryset = ImportBatch.objects.filter(uploaded_by_id=getattr(user, "pk", None)).select_related(
        "establishment", "staged")
    if pending:
        queryset = queryset.filter(status=ImportStatus.PENDING)
    try:
        return queryset.get(pk=pk)
    except ImportBatch.DoesNotExist as exc:
        raise Http404 from exc


def import_batch_list(*, user: Any, limit: int = 10) -> list[ImportBatch]:
    _expire_stale(user)
    return list(ImportBatch.objects.filter(uploaded_by_id=getattr(user, "pk", None)).defer("errors")[:limit])


class ImportChanged(ValidationError):
    """The directory changed between the preview and the confirmation."""


def directory_import_cancel(*, actor: Actor, batch: ImportBatch) -> None:
    if batch.uploaded_by_id != actor.pk or batch.status != ImportStatus.PENDING:
        raise Http404
    with transaction.atomic():
        ImportBatch.objects.filter(pk=batch.pk, status=ImportStatus.PENDING).update(
            status=ImportStatus.CANCELLED, errors=[]
        )
        staging.staged_upload_delete(owner=actor, purpose=STAGING_PURPOSE, pk=batch.staged_id)


def directory_import_apply(*, actor: Actor, batch: ImportBatch, only_good_rows: bool) -> dict[str, Any]:
    """Write the batch's good rows in one transaction with one audit entry.

    Refuses (ValidationError, nothing written) when bad rows remain and `only_good_rows`
    is false, and when checking again finds other bad lines than the preview showed
    (ImportChanged: the batch's errors are updated so that the preview shows them)."""
    if batch.uploaded_by_id != actor.pk:
        raise Http404
    _require_perm(actor, batch.kind, batch.establishment)
    already_done = _("This import has already been confirmed or cancelled.")
    summary: dict[str, Any] | None = None
    try:
        with transaction.atomic():
            # Claim the batch with a conditional UPDATE (it locks the row on PostgreSQL and
            # the database on SQLite): a double click or a second tab imports once.
            claimed = ImportBatch.objects.filter(pk=batch.pk, status=ImportStatus.PENDING).update(
                status=ImportStatus.PENDING
            )
            if not claimed:
                raise ValidationError(already_done)
            locked = ImportBatch.objects.select_related("establishment", "staged").get(pk=batch.pk)
            checks = import_check(actor=actor, batch=locked)
            errors = _errors_of(checks)
            changed = [e["line"] for e in errors] != [e["line"] for e in locked.errors]
            good = [check for check in checks if not check.problems]
            if not changed and good and (not errors or only_good_rows):
                summary = _apply(actor=actor, batch=locked, good=good, errors=errors)
    except IntegrityError as exc:  # someone created the same FINESS or email meanwhile
        raise ImportChanged(
            _("The directory changed since the preview: check the lines again before importing.")
        ) from exc
    if changed:
        ImportBatch.objects.filter(pk=batch.pk, status=ImportStatus.PENDING).update(errors=errors)
        batch.errors = errors
        raise ImportChanged(_("The directory changed since the preview: check the lines again before importing."))
    if summary is None:
        if not good:
            raise ValidationError(_("No line of this file can be imported."))
        raise ValidationError(_("The file still has bad lines: correct them, or import only the good lines."))
    batch.refresh_from_db()
    return summary


def _apply(*, actor: Actor, batch: ImportBatch, good: list[RowCheck], errors: list[dict[str, Any]]) -> dict[str, Any]:
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
    existing = {e.pk: e for chunk in _chunks(existing_ids) for e in Establishment.objects.filter(pk__in=chunk)}
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
    existing = {p.pk: p for chunk in _chunks(existing_ids) for p in Person.objects.filter(pk__in=chunk)}
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
        for chunk in _chunks(person_ids) for m in Membership.objects.filter(person_id__in=chunk)
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
