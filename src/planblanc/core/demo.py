"""Invented demonstration data: one region with a group (GHT), a CHU, a CH and an EHPAD,
plus a neighbouring region, ~60 people and one login per role.

Every establishment has a white plan from the French template. The CHU de Belleval's plan
is complete — holders and deputies, contacts, IT systems with recent restore tests — and
approved as version 1 by its director (login `directeur.chu`).

Phone numbers come from the ranges that the French regulator (ARCEP) keeps for fiction
(01 99 00 …, 06 39 98 …), addresses and mail domains are invented (.example)."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from planblanc.accounts.audit import audit_record
from planblanc.accounts.models import RoleAssignment, User
from planblanc.actors import command
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
from planblanc.plans.models import (
    ContactKind,
    ExternalContact,
    ITSystem,
    Plan,
    PlanVersion,
    Resource,
    Seat,
    SeatDeputy,
)
from planblanc.plans.services import plan_approve, plan_create
from planblanc.plans.template_data import template_apply
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
    assert n < 10_000, "outside the fiction range 01 99 00 xx xx"
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
    # The CHU's director: linked to the person who holds the director function, so that
    # this login may approve the plan (it needs no administration rights for that).
    ("directeur.chu", Role.CRISIS_MEMBER, "chu"),
]
DIRECTOR_LOGIN = "directeur.chu"
# Who creates each demo plan (a login allowed to edit it).
PLAN_CREATORS = {"chu": "admin.chu", "ch": "rssi.ght", "ehpad": "rssi.ght", "clinic": "admin.clinique"}

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
        if username == DIRECTOR_LOGIN:
            director = Person.objects.get(
                memberships__establishment=establishments["chu"], memberships__function=Function.DIRECTOR
            )
            director.user = user
            director.save(update_fields=["user"])
            user.first_name, user.last_name = director.first_name, director.last_name
            user.save(update_fields=["first_name", "last_name"])
        logins.append(DemoLogin(username, role, str(next(iter(scope.values()), "national"))))

    users = {user.username: user for user in User.objects.filter(username__in=PLAN_CREATORS.values())}
    for key, establishment in establishments.items():
        if key != "chu":
            plan_create(actor=users[PLAN_CREATORS[key]], establishment=establishment)
    _complete_chu_plan(establishments["chu"], users["admin.chu"], User.objects.get(username=DIRECTOR_LOGIN))
    _demo_catalogue(region, group, establishments)
    _demo_drill(establishments["chu"], users["admin.chu"])
    _demo_awareness(region, User.objects.get(username="ars.demo"))
    audit_record(actor=command("load_demo"), action="demo.load", label="Région de démonstration")
    return logins


def _demo_drill(chu: Establishment, admin: User) -> None:
    """A phishing drill sent to the CHU's staff (into the demo's mailbox by the worker),
    with some clicks and reports already in, so that its results page has figures."""
    from planblanc.awareness import drills
    from planblanc.core.views_drills import drill_launch

    drill = drill_launch(actor=admin, establishment=chu, template="carte-cps")
    for index, target in enumerate(drill.targets.order_by("pk")):
        if index % 3 == 0:
            drills.target_record(target=target, event="click")
        if index % 4 == 1:
            drills.target_record(target=target, event="report")


# Share of each establishment's staff already trained in the demo's awareness campaign.
DEMO_TRAINED = {"CHU de Belleval": 0.6, "Centre hospitalier de Rivemont": 0.35}


def _demo_awareness(region: Region, officer: User) -> None:
    """This year's awareness campaign of the demo region, launched by the ARS and sent
    (into the demo's mailbox by the worker). Part of the staff is trained already, some
    at their second attempt, and some are half-way: the campaigns' pages, their progress
    per department and audience, and the awareness observatory have figures."""
    from planblanc.awareness import services as awareness
    from planblanc.awareness.models import Assignment

    today = timezone.localdate()
    launch = awareness.launch_create(
        actor=officer, region=region, year=today.year, title="Sensibilisation annuelle à la cybersécurité",
        deadline=today + datetime.timedelta(days=60), channel="email", reminder_days=14,
    )
    awareness.launch_run(launch_id=launch.pk)
    awareness.launch_invite(actor=officer, launch=launch)
    awareness.launch_run(launch_id=launch.pk)
    for campaign in launch.campaigns.select_related("establishment").order_by("pk"):
        share = DEMO_TRAINED.get(campaign.establishment.name, 0.0)
        mine: dict[int, list[Assignment]] = {}
        for row in Assignment.objects.filter(campaign=campaign).select_related("person").order_by("person_id", "pk"):
            mine.setdefault(row.person_id, []).append(row)
        people = list(mine.values())
        trained = round(len(people) * share)
        for index, assignments in enumerate(people):
            # The first `trained` people pass every module; the next two pass their first.
            done = assignments if index < trained else assignments[:1] if index < trained + 2 else []
            learner = awareness.Learner(campaign=campaign, person=assignments[0].person)
            for number, assignment in enumerate(done):
                if (index + number) % 4 == 0:  # a wrong first attempt
                    questions = awareness.quiz_questions(assignment=assignment)
                    wrong = {q.id: {next((i for i, a in enumerate(q.answers) if not a.correct), 0)} for q in questions}
                    awareness.quiz_submit(learner=learner, assignment=assignment, answers=wrong)
                # Each attempt draws its own questions.
                questions = awareness.quiz_questions(assignment=assignment)
                right = {q.id: {i for i, a in enumerate(q.answers) if a.correct} for q in questions}
                awareness.quiz_submit(learner=learner, assignment=assignment, answers=right)


# Pooled resources (mutual aid): level, owner key, kind, name, quantity, where, who to call, delay, cost, agreement.
DEMO_CATALOGUE = [
    ("group", None, "equipment", "PC autonomes préconfigurés (hors domaine)", 15, "Magasin DSI du GHT, Rivemont",
     "Astreinte DSI du GHT", "2 h", "prêt gratuit", "Convention GHT-2024-07"),
    ("group", None, "people", "RSSI du GHT (mutualisé)", 1, "Siège du GHT", "RSSI du GHT", "immédiat", "-",
     "Convention GHT-2024-07"),
    ("group", None, "equipment", "Routeurs 4G avec forfaits", 6, "Magasin DSI du GHT", "Astreinte DSI du GHT", "2 h",
     "prêt gratuit", ""),
    ("region", None, "people", "CSIRT régional : intervenants réponse à incident", 3, "ARS de démonstration",
     "Cadre d'astreinte ARS", "4 h", "pris en charge par l'ARS", "Marché régional CSIRT 2025"),
    ("region", None, "equipment", "PC autonomes de la réserve régionale", 40, "Entrepôt régional", "Cadre d'astreinte ARS",
     "6 h", "prêt gratuit", ""),
    ("establishment", "ch", "service", "Laboratoire de biologie (examens urgents)", 1, "CH de Rivemont",
     "Biologiste de garde", "1 h", "tarif inter-établissements", "Convention labo GHT-2023-02"),
    ("establishment", "chu", "people", "Ingénieur biomédical", 2, "CHU de Belleval", "Astreinte biomédicale", "3 h",
     "-", ""),
    ("establishment", "ch", "equipment", "Téléphone satellite", 1, "Salle de crise du CH", "Administrateur de garde",
     "1 h", "prêt gratuit", ""),
]


def _demo_catalogue(region: Region, group: Group, establishments: dict[str, Establishment]) -> None:
    # Mutual aid is an optional app, above core's helpers: imported when used.
    from planblanc.mutual_aid.models import Resource

    phone = _fiction_mobile(90)
    Resource.objects.bulk_create([
        Resource(
            region=region, group=group if level != "region" else None,
            establishment=establishments[key] if key else None, kind=kind, name=name, quantity=quantity,
            location=where, contact=contact, contact_phone=phone, delay=delay, cost=cost, agreement=agreement,
        )
        for level, key, kind, name, quantity, where, contact, delay, cost, agreement in DEMO_CATALOGUE
    ])


# Where the holder and deputy of each template seat come from at the CHU, when no one
# holds the seat's own function there: people of a department of that kind.
SEAT_DEPARTMENTS: dict[str, str] = {
    "technical_lead": "it", "infrastructure": "it", "network_telecom": "it",
    "business_apps": "it", "it_support": "it", "biomedical": "imaging",
    "care_lead": "medicine", "emergency_lead": "emergency",
    "surgery_lead": "surgery", "lab_lead": "lab",
    "pharmacy_lead": "pharmacy", "imaging_lead": "imaging",
    "admissions_lead": "admissions", "switchboard_lead": "admissions",
    "logistics_director": "oncology", "logbook_keeper": "icu",
}
DEMO_SYSTEMS = {
    # template key: (vendor, days since the last restore test)
    "backup": ("Sauvegardes Démo", 20), "directory": ("", 45), "network": ("Réseaux Démo", 60),
    "telephony": ("Téléphonie Démo", 90), "patient_admin": ("Éditeur GAM Démo", 30), "ehr": ("Éditeur DPI Démo", 30),
    "lab": ("Éditeur SIL Démo", 75), "pharmacy": ("Éditeur Pharma Démo", 120), "imaging": ("Éditeur PACS Démo", 150),
    "theatre": ("Éditeur Bloc Démo", 200), "email": ("", 240),
}
DEMO_RESOURCE_PLACES = [
    "Salle de crise (bâtiment administratif, salle 204) et domicile des titulaires",
    "Armoire de chaque unité de soins, étagère rouge",
    "Bureau des entrées et accueil des urgences",
    "Salle de crise, urgences, laboratoire, pharmacie",
    "Salle de crise, bureau des entrées, pharmacie",
    "Salle de crise, urgences, standard",
    "Salle de crise, armoire forte",
    "Salle de crise, armoire des radios (chargeurs branchés)",
    "Coffre de la direction générale et salle de crise",
    "Salle de crise, tiroir des mobiles",
]


def _complete_chu_plan(chu: Establishment, editor: User, director: User) -> PlanVersion:
    """The CHU's plan: the template, then everything the establishment fills in itself,
    approved as version 1 by the director. Rows are written directly (one audit entry for
    the demo load) — approval goes through its service, which refuses any blocking gap."""
    plan = plan_create(actor=editor, establishment=chu, from_template=False)
    content = template_apply(plan=plan, actor=editor)
    Plan.objects.filter(pk=plan.pk).update(
        meeting_place="Salle de crise — bâtiment administratif, 2e étage, salle 204",
        fallback_place="Salle du conseil — bâtiment Pasteur, rez-de-chaussée",
        bridge_phone=_fiction_landline(9000), bridge_code="482916",
        bridge_notes="Radios portatives canal 3 ; téléphone satellitaire en salle de crise",
    )

    memberships = list(
        Membership.objects.filter(establishment=chu).select_related("person", "department").order_by("person_id", "id")
    )
    by_function: dict[str, list[Person]] = {}
    by_kind: dict[str, list[Person]] = {}
    for membership in memberships:
        by_function.setdefault(membership.function, []).append(membership.person)
        if membership.department is not None:
            by_kind.setdefault(membership.department.kind, []).append(membership.person)
    everyone = list(dict.fromkeys(membership.person for membership in memberships))
    deputies = []
    for index, (key, seat) in enumerate(content.seats.items()):
        # Seats of a key function go to the person who holds it; the others to people
        # of the matching department; the deputy is the next candidate.
        generic = {"crisis_cell", "staff", "department_head", "it_staff"}
        candidates = [] if seat.function in generic else list(by_function.get(str(seat.function), []))
        candidates += by_kind.get(SEAT_DEPARTMENTS.get(key, ""), [])
        if seat.function == "director":
            candidates += by_function.get("deputy_director", [])
        candidates += everyone[index:] + everyone[:index]
        holder = candidates[0]
        deputy = next(person for person in candidates if person.pk != holder.pk)
        seat.holder = holder
        deputies.append(SeatDeputy(seat=seat, person=deputy, rank=1))
    Seat.objects.bulk_update(list(content.seats.values()), ["holder"])
    SeatDeputy.objects.bulk_create(deputies)

    contacts = list(ExternalContact.objects.filter(plan=plan))
    for number, contact in enumerate(contacts, start=1):
        if not (contact.phone or contact.phone_24_7):
            contact.phone = _fiction_landline(9100 + number)
        if contact.kind in {ContactKind.CERT_SANTE, ContactKind.ARS, ContactKind.ANSSI, ContactKind.INSURER}:
            contact.phone_24_7 = _fiction_landline(9200 + number)
            contact.email = f"contact{number}@{contact.kind.replace('_', '-')}.demo-planblanc.example"
        contact.name = "Permanence" if contact.kind != ContactKind.CNIL else ""
    ExternalContact.objects.bulk_update(contacts, ["phone", "phone_24_7", "email", "name"])

    today = timezone.localdate()
    it_people = by_kind.get("it", []) or by_function.get("it_director", [])
    for number, (key, system) in enumerate(content.systems.items(), start=1):
        vendor, days = DEMO_SYSTEMS.get(key, ("", 100))
        system.vendor = vendor
        system.vendor_contact_24_7 = _fiction_landline(9300 + number) if vendor else ""  # type: ignore[assignment]
        system.owner = it_people[number % len(it_people)]
        system.backup_method = "Sauvegarde quotidienne sur baie dédiée, copie hebdomadaire sur bandes hors ligne"
        system.has_offline_copy = True
        system.last_restore_test = today - datetime.timedelta(days=days)
    ITSystem.objects.bulk_update(
        list(content.systems.values()),
        ["vendor", "vendor_contact_24_7", "owner", "backup_method", "has_offline_copy", "last_restore_test"],
    )

    resources = list(Resource.objects.filter(plan=plan).order_by("id"))
    for number, resource in enumerate(resources):
        resource.location = DEMO_RESOURCE_PLACES[number % len(DEMO_RESOURCE_PLACES)]
        resource.checked_on = today - datetime.timedelta(days=30 + 7 * number)
    Resource.objects.bulk_update(resources, ["location", "checked_on"])

    Plan.objects.filter(pk=plan.pk).update(draft_changed_at=timezone.now(), draft_changed_by=editor.username)
    plan.refresh_from_db()
    return plan_approve(
        actor=director, plan=plan,
        note="Première version, établie à partir du modèle national et complétée par la cellule de crise.",
    )
