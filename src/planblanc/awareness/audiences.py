"""Audiences: who takes which module, decided from the directory (functions, departments).

Everyone is in `all`; the other audiences add the modules their work calls for. A person
with several memberships in an establishment belongs to the union of their audiences."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models
from django.utils.translation import gettext_lazy as _

from planblanc.directory.models import DepartmentKind, Function


class Audience(models.TextChoices):
    ALL = "all", _("All staff")
    CARE = "care", _("Care staff")
    MANAGERS = "managers", _("Managers")
    IT = "it", _("IT staff")
    CRISIS = "crisis", _("Crisis-cell members")


CARE_DEPARTMENTS = frozenset({
    DepartmentKind.EMERGENCY, DepartmentKind.INTENSIVE_CARE, DepartmentKind.SURGERY,
    DepartmentKind.MEDICINE, DepartmentKind.MATERNITY, DepartmentKind.PAEDIATRICS,
    DepartmentKind.PSYCHIATRY, DepartmentKind.LABORATORY, DepartmentKind.PHARMACY,
    DepartmentKind.IMAGING, DepartmentKind.ONCOLOGY, DepartmentKind.DIALYSIS,
    DepartmentKind.LONG_TERM_CARE,
})
CARE_FUNCTIONS = frozenset({Function.MEDICAL_DIRECTOR, Function.NURSING_DIRECTOR})
MANAGER_FUNCTIONS = frozenset({
    Function.DIRECTOR, Function.DEPUTY_DIRECTOR, Function.MEDICAL_DIRECTOR,
    Function.NURSING_DIRECTOR, Function.DEPARTMENT_HEAD, Function.ON_CALL_MANAGER,
})
IT_FUNCTIONS = frozenset({Function.CISO, Function.IT_DIRECTOR, Function.IT_STAFF})
CRISIS_FUNCTIONS = frozenset({
    Function.CRISIS_CELL, Function.DIRECTOR, Function.DEPUTY_DIRECTOR, Function.CISO,
    Function.IT_DIRECTOR, Function.COMMUNICATION, Function.ON_CALL_MANAGER,
})


def audiences_for(function: str, department_kind: str | None) -> frozenset[str]:
    """The audiences of one membership: its function and the kind of its department."""
    found = {Audience.ALL.value}
    if department_kind in CARE_DEPARTMENTS or function in CARE_FUNCTIONS:
        found.add(Audience.CARE.value)
    if function in MANAGER_FUNCTIONS:
        found.add(Audience.MANAGERS.value)
    if function in IT_FUNCTIONS or department_kind == DepartmentKind.IT:
        found.add(Audience.IT.value)
    if function in CRISIS_FUNCTIONS:
        found.add(Audience.CRISIS.value)
    return frozenset(found)


def audiences_of_memberships(memberships: Iterable[tuple[str, str | None]]) -> frozenset[str]:
    """The union over a person's (function, department kind) pairs in one establishment."""
    found: set[str] = {Audience.ALL.value}
    for function, department_kind in memberships:
        found |= audiences_for(function, department_kind)
    return frozenset(found)


def modules_for(audiences: Iterable[str], modules: Iterable[object]) -> list[object]:
    """The modules (content.ModuleSpec) meant for any of these audiences, in catalogue order."""
    wanted = set(audiences)
    return [module for module in modules if wanted & set(module.audiences)]  # type: ignore[attr-defined]
