"""Invented demonstration data: one region with a group (GHT), a CHU, a CH and an EHPAD,
plus a neighbouring region, ~60 people and one login per role.

Phone numbers come from the ranges that the French regulator (ARCEP) keeps for fiction
(01 99 00 …, 06 39 98 …), addresses and mail domains are invented (.example)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from planblanc.accounts.audit import audit_record
from planblanc.accounts.models import RoleAssignment, User
from planblanc.directory.models import (
    Department,
    DepartmentKind,
    Establishment,
    EstablishmentCategory,
    Function,
    Group,
    Membership,
    Person,
    Region,
)
from planblanc.directory.validators import finess_with_check_digit
from planblanc.tenancy import Role

DEMO_PASSWORD = "PlanBlanc-demo-2026"  # noqa: S105  (invented, printed by `planblanc demo`)

FIRST_NAMES = [
    "Camille", "Nicolas", "Sophie", "Julien", "Claire", "Mehdi", "Isabelle", "Thomas", "Nadia", "Pierre",
    "Élodie", "Karim", "Anne", "Laurent", "Fatou", "Hugo", "Mathilde", "Yann", "Chloé", "Olivier",
    "Inès", "Romain", "Lucie", "Antoine", "Sarah", "Vincent", "Amélie", "Bruno", "Léa", "Rachid",
]
LAST_NAMES = [
    "Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefèvre", "Garnier", "Faure", "Rousseau", "Blanc",
    "Guerin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin", "Morin", "Mathieu", "Clément", "Gauthier",
    "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin", "Masson", "Sanchez", "Boyer", "Denis", "Lemaire",
]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: Any
    scope: str


def _fiction_mobile(n: int) -> str:
    return f"+3363998{n:04d}"


def _fiction_landline(n: int) -> str:
    return f"+33199{n:06d}"


ESTABLISHMENTS = [
    # key, first 8 FINESS chars, name, category, priority, OSE, city, departments
    ("chu", "38000001", "CHU de Belleval", EstablishmentCategory.CHU, True, True, "Belleval",
     ["emergency", "icu", "surgery", "medicine", "maternity", "lab", "pharmacy", "imaging", "admissions", "oncology", "it"]),
    ("ch", "38000002", "Centre hospitalier de Rivemont", EstablishmentCategory.CH, True, False, "Rivemont",
     ["emergency", "surgery", "medicine", "lab", "pharmacy", "imaging", "admissions", "it"]),
    ("ehpad", "38000003", "EHPAD Les Tilleuls", EstablishmentCategory.NURSING_HOME, False, False, "Rivemont",
     ["long_term_care", "management"]),
]
NEIGHBOUR = ("clinic", "73000004", "Clinique du Lac", EstablishmentCategory.PRIVATE_CLINIC, False, False, "Lacville",
             ["surgery", "imaging", "admissions"])

LOGINS = [
    ("admin.national", Role.NATIONAL_ADMIN, None),
    ("ars.demo", Role.REGIONAL_OFFICER, "region"),
    ("rssi.ght", Role.GROUP_CISO, "group"),
    ("admin.chu", Role.ESTABLISHMENT_ADMIN, "chu"),
    ("cellule.chu", Role.CRISIS_MEMBER, "chu"),
    ("animateur.chu", Role.EXERCISE_ANIMATOR, "chu"),
    ("auditeur.chu", Role.AUDITOR, "chu"),
    ("admin.clinique", Role.ESTABLISHMENT_ADMIN, "clinic"),
]

KEY_FUNCTIONS = [
    (Function.DIRECTOR, "Directeur·rice général·e"),
    (Function.DEPUTY_DIRECTOR, "Directeur·rice adjoint·e"),
    (Function.CISO, "RSSI"),
    (Function.DPO, "Délégué·e à la protection des données"),
    (Function.IT_DIRECTOR, "DSI"),
    (Function.MEDICAL_DIRECTOR, "Président·e de CME"),
    (Function.NURSING_DIRECTOR, "Directeur·rice des soins"),
    (Function.COMMUNICATION, "Chargé·e de communication"),
    (Function.ON_CALL_MANAGER, "Administrateur·rice de garde"),
]


DEPARTMENT_NAMES = {
    DepartmentKind.EMERGENCY: "Urgences",
    DepartmentKind.INTENSIVE_CARE: "Réanimation",
    DepartmentKind.SURGERY: "Bloc opératoire et chirurgie",
    DepartmentKind.MEDICINE: "Médecine polyvalente",
    DepartmentKind.MATERNITY: "Maternité",
    DepartmentKind.LABORATORY: "Laboratoire de biologie",
    DepartmentKind.PHARMACY: "Pharmacie à usage intérieur",
    DepartmentKind.IMAGING: "Imagerie médicale",
    DepartmentKind.ADMISSIONS: "Bureau des entrées",
    DepartmentKind.ONCOLOGY: "Oncologie",
    DepartmentKind.IT: "Direction du numérique",
    DepartmentKind.LONG_TERM_CARE: "Unité d'hébergement",
    DepartmentKind.MANAGEMENT: "Direction",
}


def demo_is_loaded() -> bool:
    return Establishment.objects.filter(finess=finess_with_check_digit(ESTABLISHMENTS[0][1])).exists()


def _make_establishment(spec: tuple, region: Region, group: Group | None) -> Establishment:
    key, first8, name, category, priority, ose, city, kinds = spec
    establishment = Establishment.objects.create(
        finess=finess_with_check_digit(first8), name=name, category=category, is_priority=priority,
        is_essential_operator=ose, region=region, group=group, address="1 rue de l'Exemple",
        postal_code=first8[:2] + "000", city=city, switchboard_phone=_fiction_landline(int(first8[-2:]) * 100),
    )
    for kind in kinds:
        Department.objects.create(establishment=establishment, kind=kind, name=DEPARTMENT_NAMES[kind])
    return establishment


@transaction.atomic
def demo_load() -> list[DemoLogin]:
    """Create the demo data once; a second call changes nothing."""
    if demo_is_loaded():
        return [DemoLogin(u, r, s or "national") for u, r, s in LOGINS]
    rng = random.Random(2026)  # the same people every time
    region = Region.objects.create(code="DEMO", name="Région de démonstration", agency_name="ARS de démonstration")
    neighbour_region = Region.objects.create(code="VOIS", name="Région voisine", agency_name="ARS voisine")
    group = Group.objects.create(code="GHT-DEMO", name="GHT Belleval-Rivemont", region=region)
    establishments = {spec[0]: _make_establishment(spec, region, group) for spec in ESTABLISHMENTS}
    establishments["clinic"] = _make_establishment(NEIGHBOUR, neighbour_region, None)

    counter = 0
    sizes = {"chu": 30, "ch": 18, "ehpad": 6, "clinic": 8}
    used_names: set[tuple[str, str]] = set()
    for key, size in sizes.items():
        establishment = establishments[key]
        departments = list(establishment.departments.all())
        domain = f"{key}.demo-planblanc.example"
        for index in range(size):
            counter += 1
            while True:
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                if (first, last) not in used_names:
                    used_names.add((first, last))
                    break
            if index < len(KEY_FUNCTIONS) and key != "ehpad" or (key == "ehpad" and index < 2):
                function, job = KEY_FUNCTIONS[index]
                department = None
            else:
                department = departments[index % len(departments)]
                function = Function.DEPARTMENT_HEAD if index % 4 == 0 else Function.CRISIS_CELL if index % 4 == 1 else Function.STAFF
                job = f"{'Cadre' if function == Function.DEPARTMENT_HEAD else 'Agent'} — {department.name}"
            ascii_name = f"{first}.{last}".lower().translate(str.maketrans("éèêëïîôç", "eeeeiioc"))
            person = Person.objects.create(
                first_name=first, last_name=last, job_title=job, email=f"{ascii_name}@{domain}",
                # One person in ten has no mobile: the plan's gap list should show them.
                mobile_phone="" if counter % 10 == 0 else _fiction_mobile(counter),
                landline_phone=_fiction_landline(counter),
                preferred_language="en" if counter % 17 == 0 else "fr",
            )
            Membership.objects.create(person=person, establishment=establishment, function=function, department=department)
            if function in {Function.DIRECTOR, Function.CISO, Function.IT_DIRECTOR, Function.ON_CALL_MANAGER}:
                Membership.objects.create(person=person, establishment=establishment, function=Function.CRISIS_CELL)

    logins = []
    for username, role, scope_key in LOGINS:
        user = User.objects.create_user(
            username=username, password=DEMO_PASSWORD, email=f"{username}@demo-planblanc.example",
            first_name=username.split(".")[0].capitalize(), last_name="Démo",
        )
        scope: dict[str, object] = {}
        if scope_key == "region":
            scope["region"] = region
        elif scope_key == "group":
            scope["group"] = group
        elif scope_key:
            scope["establishment"] = establishments[scope_key]
        RoleAssignment.objects.create(user=user, role=role, **scope)
        if role == Role.NATIONAL_ADMIN:
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
        logins.append(DemoLogin(username, role, str(next(iter(scope.values()), "national"))))
    audit_record(actor=None, action="demo.load", label="Région de démonstration")
    return logins
