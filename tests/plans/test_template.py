"""The French plan template: its content, its validation, and how a new plan starts from it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.exceptions import ValidationError

from planblanc.accounts.models import AuditEntry
from planblanc.directory.models import DepartmentKind, Function
from planblanc.plans.models import (
    AlertStep,
    CellKind,
    ContactKind,
    CriticalProcess,
    DegradedProcedure,
    ExternalContact,
    ITSystem,
    Phase,
    Plan,
    ReflexItem,
    ReflexSheet,
    Resource,
    Seat,
)
from planblanc.plans.selectors import plan_gaps
from planblanc.plans.services import plan_create
from planblanc.plans.template_data import (
    TEMPLATE_DIR,
    TEMPLATE_FILES,
    TemplateError,
    plan_is_empty,
    template_apply,
    template_load,
)
from tests.factories import DepartmentFactory

pytestmark = pytest.mark.usefixtures("english_messages")


@pytest.fixture
def template_copy(tmp_path: Path) -> Path:
    """A copy of the template that a test may break."""
    target = tmp_path / "template"
    shutil.copytree(TEMPLATE_DIR, target)
    return target


def _edit(directory: Path, name: str, change: Any) -> None:
    path = directory / name
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")


def test_it_ships_every_file_as_valid_yaml() -> None:
    on_disk = sorted(path.name for path in TEMPLATE_DIR.glob("*.yaml"))
    assert on_disk == sorted(TEMPLATE_FILES)
    for name in TEMPLATE_FILES:
        document = yaml.safe_load((TEMPLATE_DIR / name).read_text(encoding="utf-8"))
        assert isinstance(document, dict) and document, name
    template_load()  # the whole template passes its own validation


def test_it_has_at_least_12_reflex_sheets_each_with_an_owner_and_every_phase() -> None:
    content = template_load()
    assert len(content.sheets) >= 12
    titles = [spec.sheet.title for spec in content.sheets]
    assert len(set(titles)) == len(titles)
    for spec in content.sheets:
        assert spec.sheet.owner_function or spec.seat_key, spec.sheet.title
        assert {item.phase for item in spec.items} == set(Phase.values), spec.sheet.title
    owners = {spec.sheet.owner_function for spec in content.sheets}
    assert {Function.DIRECTOR, Function.CISO, Function.IT_DIRECTOR, Function.MEDICAL_DIRECTOR,
            Function.NURSING_DIRECTOR, Function.COMMUNICATION, Function.DPO} <= owners
    # Relative due times where the model supports them, always inside the first day for the first hour.
    first_hour = [item for spec in content.sheets for item in spec.items if item.phase == Phase.FIRST_HOUR]
    assert all(item.due_minutes is None or item.due_minutes <= 60 for item in first_hour)
    assert sum(item.due_minutes is not None for spec in content.sheets for item in spec.items) > 100


def test_it_has_seats_in_the_three_cells_and_an_alert_tree_that_reaches_the_strategic_cell() -> None:
    content = template_load()
    cells = {seat.cell for seat in content.seats.values()}
    assert cells == set(CellKind.values)
    reached = {to_key for _from, to_key, _step in content.alert_steps}
    strategic = {key for key, seat in content.seats.items() if seat.cell == CellKind.STRATEGIC}
    assert strategic <= reached
    assert content.alert_steps[0][0] is None  # whoever detects starts the tree


def test_it_has_degraded_procedures_for_at_least_8_departments() -> None:
    kinds = {procedure.department_kind for procedure in template_load().procedures}
    assert len(kinds) >= 8
    assert {DepartmentKind.EMERGENCY, DepartmentKind.SURGERY, DepartmentKind.LABORATORY, DepartmentKind.PHARMACY,
            DepartmentKind.IMAGING, DepartmentKind.ADMISSIONS, DepartmentKind.MATERNITY} <= kinds


def test_it_lists_cert_sante_and_the_authorities_with_blanks_to_fill() -> None:
    contacts = template_load().contacts
    kinds = {contact.kind for contact in contacts}
    assert {ContactKind.CERT_SANTE, ContactKind.ARS, ContactKind.ANSSI, ContactKind.POLICE, ContactKind.PREFECTURE,
            ContactKind.CNIL, ContactKind.INSURER, ContactKind.IT_VENDOR, ContactKind.NEIGHBOUR} <= kinds
    cert = next(contact for contact in contacts if contact.kind == ContactKind.CERT_SANTE)
    assert "CERT Santé" in cert.organisation
    # Names are never invented, and regional numbers are left blank.
    assert all(contact.name == "" for contact in contacts)
    assert not any(contact.phone or contact.email for contact in contacts if contact.kind in {ContactKind.ARS,
                                                                                            ContactKind.NEIGHBOUR})


def test_it_gives_every_process_an_rto_within_its_maximum_downtime() -> None:
    content = template_load()
    assert content.processes and content.systems
    for process, keys in content.processes:
        assert process.rto is not None and process.max_tolerable_downtime is not None
        assert process.rto <= process.max_tolerable_downtime, process.name
        assert keys, process.name


def test_it_fills_a_new_plan_through_plan_create(world: Any) -> None:
    content = template_load()
    plan = plan_create(actor=world.establishment_admin, establishment=world.chu)
    assert Seat.objects.filter(plan=plan).count() == len(content.seats)
    assert AlertStep.objects.filter(plan=plan).count() == len(content.alert_steps)
    assert ReflexSheet.objects.filter(plan=plan).count() == len(content.sheets)
    assert ReflexItem.objects.filter(sheet__plan=plan).count() == sum(len(spec.items) for spec in content.sheets)
    assert DegradedProcedure.objects.filter(plan=plan).count() == len(content.procedures)
    assert ExternalContact.objects.filter(plan=plan).count() == len(content.contacts)
    assert Resource.objects.filter(plan=plan).count() == len(content.resources)
    assert ITSystem.objects.filter(plan=plan).count() == len(content.systems)
    assert CriticalProcess.objects.filter(plan=plan).count() == len(content.processes)
    assert CriticalProcess.systems.through.objects.filter(criticalprocess__plan=plan).count() == sum(
        len(keys) for _process, keys in content.processes
    )
    plan.refresh_from_db()
    assert plan.briefing_rhythm.startswith("Point de situation")
    assert plan.meeting_place == ""  # each establishment chooses its own
    # Reflex sheets are tied to their seats, alert steps to seats of the same plan.
    director_sheet = ReflexSheet.objects.get(plan=plan, owner_function=Function.DIRECTOR)
    assert director_sheet.owner_seat is not None and director_sheet.owner_seat.plan_id == plan.pk
    assert not AlertStep.objects.filter(plan=plan).exclude(to_seat__plan=plan).exists()
    # The CHU's only emergency department gets the emergency procedure.
    emergency = DegradedProcedure.objects.get(plan=plan, department_kind=DepartmentKind.EMERGENCY)
    assert emergency.department == world.chu_emergency
    assert DegradedProcedure.objects.get(plan=plan, department_kind=DepartmentKind.LABORATORY).department is None
    # Audited with the counts, by the person who created the plan.
    entries = AuditEntry.objects.filter(object_id=str(plan.pk), action__startswith="plan.")
    assert set(entries.values_list("action", flat=True)) >= {"plan.create", "plan.template.apply"}
    applied = entries.get(action="plan.template.apply")
    assert applied.changes["reflex_sheets"] == [0, len(content.sheets)]
    # What the establishment must still fill is shown as gaps, not hidden.
    codes = {gap.code for gap in plan_gaps(plan=plan).gaps}
    assert {"seat_no_holder", "cell_no_meeting_place", "no_cert_sante_contact"} <= codes
    assert "no_reflex_sheet" not in codes and "alert_tree_empty" not in codes


def test_it_does_not_link_a_procedure_when_several_departments_share_its_kind(world: Any) -> None:
    DepartmentFactory(establishment=world.chu, name="Urgences pédiatriques", kind=DepartmentKind.EMERGENCY)
    plan = plan_create(actor=world.establishment_admin, establishment=world.chu)
    emergency = DegradedProcedure.objects.get(plan=plan, department_kind=DepartmentKind.EMERGENCY)
    assert emergency.department is None


def test_it_refuses_to_apply_the_template_twice(world: Any) -> None:
    plan = plan_create(actor=world.establishment_admin, establishment=world.chu)
    seats = Seat.objects.filter(plan=plan).count()
    with pytest.raises(ValidationError) as error:
        template_apply(plan=plan)
    assert error.value.code == "plan_not_empty"
    assert "already has content" in " ".join(error.value.messages)
    assert Seat.objects.filter(plan=plan).count() == seats


def test_it_refuses_a_plan_with_even_one_contact(world: Any) -> None:
    plan = Plan.objects.create(establishment=world.ch)
    ExternalContact.objects.create(plan=plan, kind=ContactKind.ARS, organisation="ARS", phone="+33199000125")
    assert not plan_is_empty(plan=plan)
    with pytest.raises(ValidationError):
        template_apply(plan=plan)
    assert not Seat.objects.filter(plan=plan).exists()


def test_it_creates_an_empty_plan_when_asked_not_to_use_the_template(world: Any) -> None:
    plan = plan_create(actor=world.establishment_admin, establishment=world.chu, from_template=False)
    assert plan_is_empty(plan=plan)


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        ("reflex_sheets.yaml", lambda d: d["sheets"][1]["phases"].update({"2h": ["Agir"]}),
         ["reflex_sheets.yaml, sheets #2 (“Directeur·rice de crise”)", "2h"]),
        ("reflex_sheets.yaml", lambda d: d["sheets"][2]["phases"].pop("recovery"),
         ["reflex_sheets.yaml, sheets #3", "recovery"]),
        ("reflex_sheets.yaml", lambda d: d["sheets"][0]["phases"]["1h"].append({"text": "Agir", "due": "bientôt"}),
         ["reflex_sheets.yaml, sheets #1", "1h #3", "bientôt"]),
        ("reflex_sheets.yaml", lambda d: d["sheets"][1]["phases"]["15min"].append({"text": "Agir", "due": "2 h"}),
         ["reflex_sheets.yaml, sheets #2", "15min #4", "end of its phase"]),
        ("reflex_sheets.yaml", lambda d: d["sheets"][4].update({"owner_seat": "nobody"}),
         ["reflex_sheets.yaml, sheets #5", "nobody"]),
        ("cell.yaml", lambda d: d["seats"][0].update({"cell": "kitchen"}),
         ["cell.yaml, seats #1 (“Directeur·rice de crise”)", "cell"]),
        ("cell.yaml", lambda d: d["seats"][1].update({"key": d["seats"][0]["key"]}),
         ["cell.yaml, seats #2", "crisis_director"]),
        ("alert_tree.yaml", lambda d: d["steps"][3].update({"means": "pigeon"}),
         ["alert_tree.yaml, steps #4", "means"]),
        ("degraded_procedures.yaml", lambda d: d["procedures"][0].update({"department_kind": "spa"}),
         ["degraded_procedures.yaml, procedures #1", "department_kind"]),
        ("degraded_procedures.yaml", lambda d: d["procedures"][1].update({"titel": "x"}),
         ["degraded_procedures.yaml, procedures #2", "titel"]),
        ("contacts.yaml", lambda d: d["contacts"][0].update({"phone": "12"}),
         ["contacts.yaml, contacts #1 (“CERT Santé", "phone"]),
        ("contacts.yaml", lambda d: d["contacts"].append("ANSSI"),
         ["contacts.yaml, contacts #"]),
        ("resources.yaml", lambda d: d["resources"][2].pop("location"),
         ["resources.yaml, resources #3", "location"]),
        ("processes.yaml", lambda d: d["processes"][0].update({"rto": "3 j", "mtd": "1 j"}),
         ["processes.yaml, processes #1 (“Prise en charge des urgences”)", "RTO"]),
        ("processes.yaml", lambda d: d["processes"][0]["systems"].append("minitel"),
         ["processes.yaml, processes #1", "minitel"]),
        ("processes.yaml", lambda d: d["systems"][0].update({"criticality": "extreme"}),
         ["processes.yaml, systems #1", "vital"]),
    ],
)
def test_it_names_the_file_and_the_entry_of_a_malformed_template(
    template_copy: Path, name: str, change: Any, expected: list[str]
) -> None:
    _edit(template_copy, name, change)
    with pytest.raises(TemplateError) as error:
        template_load(directory=template_copy)
    message = " ".join(error.value.messages)
    for fragment in expected:
        assert fragment in message


def test_it_gives_the_line_of_a_yaml_syntax_error(template_copy: Path) -> None:
    path = template_copy / "contacts.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.append("  - kind: cnil\n    organisation: CNIL : service des plaintes: x")
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(TemplateError) as error:
        template_load(directory=template_copy)
    message = " ".join(error.value.messages)
    assert "contacts.yaml (line " in message and "not valid YAML" in message


def test_it_reports_a_missing_file(template_copy: Path) -> None:
    (template_copy / "resources.yaml").unlink()
    with pytest.raises(TemplateError, match=r"resources\.yaml: the file is missing"):
        template_load(directory=template_copy)


def test_it_saves_nothing_from_a_malformed_template(world: Any, template_copy: Path) -> None:
    _edit(template_copy, "processes.yaml", lambda d: d["processes"][-1].update({"mtd": "jamais"}))
    plan = Plan.objects.create(establishment=world.chu)
    with pytest.raises(TemplateError):
        template_apply(plan=plan, directory=template_copy)
    assert plan_is_empty(plan=plan)
    assert not AuditEntry.objects.filter(action="plan.template.apply").exists()
