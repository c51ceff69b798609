"""Reads of the white plan: what is missing (gaps), its completeness score, versions."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc.directory.models import Department, DepartmentKind
from planblanc.plans.models import (
    AlertStep,
    CellKind,
    ContactKind,
    Criticality,
    CriticalProcess,
    DegradedProcedure,
    ExternalContact,
    ITSystem,
    Plan,
    PlanExport,
    PlanVersion,
    ReflexSheet,
    Resource,
    Seat,
    SeatDeputy,
)
from planblanc.tenancy import Perm, get_for_user

# Open improvement actions (from crises and exercises) are gaps of the plan. The crisis
# app, above this one, registers where they come from (crisis/apps.py), so that plans
# never imports crisis: a source takes establishment ids and returns open actions, each
# with its `crisis` (declared_at, is_exercise, establishment_id), by due date.
ImprovementActionSource = Callable[[list[int]], Iterable[Any]]
_improvement_action_sources: list[ImprovementActionSource] = []


def improvement_action_source_register(source: ImprovementActionSource) -> None:
    if source not in _improvement_action_sources:
        _improvement_action_sources.append(source)


BLOCKING, WARNING, INFO = "blocking", "warning", "info"
# How much a check weighs in the completeness score.
SEVERITY_WEIGHT = {BLOCKING: 3, WARNING: 1, INFO: 0}
# Departments whose care stops or becomes dangerous without IT: each needs a procedure.
DEPARTMENTS_NEEDING_PROCEDURE = {
    DepartmentKind.EMERGENCY, DepartmentKind.INTENSIVE_CARE, DepartmentKind.SURGERY, DepartmentKind.MATERNITY,
    DepartmentKind.LABORATORY, DepartmentKind.PHARMACY, DepartmentKind.IMAGING, DepartmentKind.ADMISSIONS,
    DepartmentKind.ONCOLOGY, DepartmentKind.DIALYSIS,
}
RESTORE_TEST_MAX_AGE = datetime.timedelta(days=365)


@dataclass(frozen=True)
class Gap:
    code: str
    severity: str
    message: str
    section: str
    item: str = ""

    @property
    def blocking(self) -> bool:
        return self.severity == BLOCKING


@dataclass
class GapReport:
    gaps: list[Gap] = field(default_factory=list)
    weight_passed: int = 0
    weight_total: int = 0

    def check(self, ok: bool, *, severity: str, code: str, message: str, section: str, item: str = "") -> None:
        weight = SEVERITY_WEIGHT[severity]
        self.weight_total += weight
        if ok:
            self.weight_passed += weight
        else:
            self.gaps.append(Gap(code=code, severity=severity, message=message, section=section, item=item))

    @property
    def score(self) -> int:
        """Completeness in percent: the weighted share of checks that pass (a blocking
        check weighs 3, a warning 1, information 0)."""
        if not self.weight_total:
            return 0
        return round(100 * self.weight_passed / self.weight_total)

    @property
    def blocking_count(self) -> int:
        return sum(1 for gap in self.gaps if gap.blocking)

    def by_severity(self) -> list[Gap]:
        order = {BLOCKING: 0, WARNING: 1, INFO: 2}
        return sorted(self.gaps, key=lambda gap: order[gap.severity])


def plan_for_user(*, user: Any, establishment_id: int, perm: Perm = Perm.VIEW_DIRECTORY) -> Plan:
    return get_for_user(user, Plan.objects.select_related("establishment"), perm, establishment_id=establishment_id)


def plan_versions(*, plan: Plan) -> QuerySet[PlanVersion]:
    return plan.versions.defer("snapshot").order_by("-number")


def plan_latest_version(*, plan: Plan) -> PlanVersion | None:
    return plan.versions.order_by("-number").first()


def plan_gaps(*, plan: Plan, today: datetime.date | None = None) -> GapReport:
    """Every rule the plan is checked against, with its severity. Approval is refused
    while a blocking gap remains."""
    return plan_gaps_many(plans=[plan], today=today)[plan.pk]


@dataclass
class _PlanRows:
    """What the gap rules read about one plan, loaded for many plans at once."""

    seats: list[Seat] = field(default_factory=list)
    reached: set[int] = field(default_factory=set)
    sheets: list[ReflexSheet] = field(default_factory=list)
    covered_kinds: set[str] = field(default_factory=set)
    present_kinds: set[str] = field(default_factory=set)
    systems: list[ITSystem] = field(default_factory=list)
    processes: list[CriticalProcess] = field(default_factory=list)
    contacts: list[ExternalContact] = field(default_factory=list)
    latest: tuple[int, datetime.datetime] | None = None
    printed: int | None = None
    improvement_actions: list[Any] = field(default_factory=list)


def _load_rows(plans: list[Plan]) -> dict[int, _PlanRows]:
    """A fixed number of queries whatever the number of plans (the list of plans of a
    region shows every plan's score)."""
    rows = {plan.pk: _PlanRows() for plan in plans}
    ids = list(rows)
    by_establishment = {plan.establishment_id: rows[plan.pk] for plan in plans}
    for seat in Seat.objects.filter(plan_id__in=ids).select_related("holder").prefetch_related(
        Prefetch("deputies", queryset=SeatDeputy.objects.select_related("person"))
    ):
        rows[seat.plan_id].seats.append(seat)
    for plan_id, to_seat_id in AlertStep.objects.filter(plan_id__in=ids).values_list("plan_id", "to_seat_id"):
        rows[plan_id].reached.add(to_seat_id)
    for sheet in ReflexSheet.objects.filter(plan_id__in=ids).annotate(item_count=Count("items")):
        rows[sheet.plan_id].sheets.append(sheet)
    for plan_id, kind in DegradedProcedure.objects.filter(plan_id__in=ids).values_list("plan_id", "department_kind"):
        rows[plan_id].covered_kinds.add(kind)
    for establishment_id, kind in Department.objects.filter(
        establishment_id__in=list(by_establishment)
    ).values_list("establishment_id", "kind"):
        by_establishment[establishment_id].present_kinds.add(kind)
    for system in ITSystem.objects.filter(plan_id__in=ids):
        rows[system.plan_id].systems.append(system)
    for process in CriticalProcess.objects.filter(plan_id__in=ids):
        rows[process.plan_id].processes.append(process)
    for contact in ExternalContact.objects.filter(plan_id__in=ids):
        rows[contact.plan_id].contacts.append(contact)
    for plan_id, number, approved_at in PlanVersion.objects.filter(plan_id__in=ids).order_by("number").values_list(
        "plan_id", "number", "approved_at"
    ):
        rows[plan_id].latest = (number, approved_at)
    for plan_id, printed in (
        PlanExport.objects.filter(plan_id__in=ids, kind=PlanExport.Kind.PAPER_KIT, version__isnull=False)
        .values("plan_id").annotate(printed=Max("version__number")).values_list("plan_id", "printed")
    ):
        rows[plan_id].printed = printed
    for source in _improvement_action_sources:
        for action in source(list(by_establishment)):
            by_establishment[action.crisis.establishment_id].improvement_actions.append(action)
    return rows


def plan_gaps_many(*, plans: list[Plan], today: datetime.date | None = None) -> dict[int, GapReport]:
    """plan_gaps for many plans (with their establishment loaded), by plan id."""
    today = today or timezone.localdate()
    reports = {}
    for plan_id, rows in _load_rows(plans).items():
        plan = next(p for p in plans if p.pk == plan_id)
        report = GapReport()
        _check_cell(plan, report)
        _check_seats(rows.seats, report)
        _check_alert_tree(rows.seats, rows.reached, report)
        _check_reflex_sheets(rows.sheets, report)
        _check_degraded_procedures(rows.present_kinds, rows.covered_kinds, report)
        _check_systems_and_processes(rows.systems, rows.processes, report, today)
        _check_contacts(plan, rows.contacts, report)
        _check_versions_and_prints(plan, rows.latest, rows.printed, report)
        _check_improvement_actions(rows.improvement_actions, report, today)
        reports[plan_id] = report
    return reports


def _check_cell(plan: Plan, report: GapReport) -> None:
    report.check(bool(plan.meeting_place.strip()), severity=BLOCKING, code="cell_no_meeting_place",
                 message=_("The crisis cell has no meeting place."), section="cell")
    report.check(bool(plan.fallback_place.strip()), severity=WARNING, code="cell_no_fallback_place",
                 message=_("The crisis cell has no fallback meeting place."), section="cell")
    report.check(bool(plan.bridge_phone or plan.bridge_notes.strip()), severity=WARNING, code="cell_no_bridge",
                 message=_("No conference bridge or other way to meet remotely."), section="cell")
    report.check(bool(plan.briefing_rhythm.strip()), severity=INFO, code="cell_no_rhythm",
                 message=_("The rhythm of situation briefings is not set."), section="cell")


def _check_seats(seats: list[Seat], report: GapReport) -> None:
    report.check(any(seat.cell == CellKind.STRATEGIC for seat in seats), severity=BLOCKING,
                 code="cell_no_strategic_seat", message=_("The strategic cell has no seat."), section="seats")
    people_seen: set[int] = set()
    for seat in seats:
        report.check(seat.holder_id is not None, severity=BLOCKING, code="seat_no_holder",
                     message=_("Seat “%(seat)s” has no holder.") % {"seat": seat.title}, section="seats",
                     item=seat.title)
        deputies = list(seat.deputies.all())
        report.check(bool(deputies), severity=WARNING, code="seat_no_deputy",
                     message=_("Seat “%(seat)s” has no deputy.") % {"seat": seat.title}, section="seats",
                     item=seat.title)
        for person in [seat.holder, *(deputy.person for deputy in deputies)]:
            if person is None or person.pk in people_seen:
                continue
            people_seen.add(person.pk)
            report.check(bool(person.mobile_phone), severity=WARNING, code="person_no_mobile",
                         message=_("%(name)s (seat “%(seat)s”) has no mobile phone number.")
                         % {"name": person.full_name, "seat": seat.title}, section="seats", item=seat.title)


def _check_alert_tree(seats: list[Seat], reached: set[int], report: GapReport) -> None:
    report.check(bool(reached), severity=BLOCKING, code="alert_tree_empty",
                 message=_("The alert tree is empty: nobody knows whom to call."), section="alert_tree")
    if reached:
        for seat in seats:
            if seat.cell == CellKind.STRATEGIC:
                report.check(seat.pk in reached, severity=WARNING, code="seat_not_alerted",
                             message=_("Nobody alerts the seat “%(seat)s” in the alert tree.") % {"seat": seat.title},
                             section="alert_tree", item=seat.title)


def _check_reflex_sheets(sheets: list[ReflexSheet], report: GapReport) -> None:
    report.check(bool(sheets), severity=BLOCKING, code="no_reflex_sheet",
                 message=_("The plan has no reflex sheet."), section="reflex_sheets")
    for sheet in sheets:
        report.check(bool(sheet.owner_function or sheet.owner_seat_id), severity=BLOCKING,
                     code="reflex_sheet_no_owner",
                     message=_("Reflex sheet “%(title)s” has no owner role.") % {"title": sheet.title},
                     section="reflex_sheets", item=sheet.title)
        report.check(bool(sheet.item_count), severity=WARNING, code="reflex_sheet_empty",  # type: ignore[attr-defined]
                     message=_("Reflex sheet “%(title)s” has no action.") % {"title": sheet.title},
                     section="reflex_sheets", item=sheet.title)


def _check_degraded_procedures(present: set[str], covered: set[str], report: GapReport) -> None:
    for kind in sorted(present & DEPARTMENTS_NEEDING_PROCEDURE):
        label = DepartmentKind(kind).label
        report.check(kind in covered, severity=WARNING, code="department_no_procedure",
                     message=_("No degraded-mode procedure for %(department)s.") % {"department": label},
                     section="degraded_procedures", item=str(label))


def _check_systems_and_processes(systems: list[ITSystem], processes: list[CriticalProcess], report: GapReport,
                                 today: datetime.date) -> None:
    for system in systems:
        if system.criticality > Criticality.HIGH:
            continue
        severity = BLOCKING if system.criticality == Criticality.VITAL else WARNING
        recent = system.last_restore_test is not None and today - system.last_restore_test <= RESTORE_TEST_MAX_AGE
        report.check(recent, severity=severity, code="system_no_recent_restore_test",
                     message=_("%(system)s: no restore test in the last 12 months.") % {"system": system.name},
                     section="it_systems", item=system.name)
        report.check(system.has_offline_copy, severity=severity, code="system_no_offline_copy",
                     message=_("%(system)s: no offline or immutable backup copy.") % {"system": system.name},
                     section="it_systems", item=system.name)
        report.check(bool(system.vendor_contact_24_7) or not system.vendor, severity=WARNING,
                     code="system_no_vendor_contact",
                     message=_("%(system)s: no 24/7 contact at the vendor.") % {"system": system.name},
                     section="it_systems", item=system.name)
    for process in processes:
        has_both = process.rto is not None and process.max_tolerable_downtime is not None
        report.check(has_both, severity=WARNING, code="process_no_rto",
                     message=_("%(process)s: RTO or maximum tolerable downtime missing.") % {"process": process.name},
                     section="critical_processes", item=process.name)
        if has_both:
            report.check(process.rto <= process.max_tolerable_downtime, severity=BLOCKING,  # type: ignore[operator]
                         code="process_rto_over_mtd",
                         message=_("%(process)s: the RTO is longer than the maximum tolerable downtime.")
                         % {"process": process.name}, section="critical_processes", item=process.name)


def _check_contacts(plan: Plan, contacts: list[ExternalContact], report: GapReport) -> None:
    def reachable(kind: Any) -> bool:
        return any(c.kind == kind and (c.phone or c.phone_24_7 or c.email) for c in contacts)

    report.check(reachable(ContactKind.CERT_SANTE), severity=BLOCKING, code="no_cert_sante_contact",
                 message=_("No way to reach CERT Santé (phone or email)."), section="contacts")
    report.check(reachable(ContactKind.ARS), severity=BLOCKING, code="no_ars_contact",
                 message=_("No way to reach the regional health agency (ARS)."), section="contacts")
    if plan.establishment.is_essential_operator:
        report.check(reachable(ContactKind.ANSSI), severity=WARNING, code="no_anssi_contact",
                     message=_("Essential-services operator: no ANSSI contact."), section="contacts")
    for contact in contacts:
        report.check(bool(contact.phone or contact.phone_24_7 or contact.email), severity=WARNING,
                     code="contact_unreachable",
                     message=_("Contact “%(name)s” has no phone number or email yet.") % {"name": contact.organisation},
                     section="contacts", item=contact.organisation)


def _check_versions_and_prints(plan: Plan, latest: tuple[int, datetime.datetime] | None, printed: int | None,
                               report: GapReport) -> None:
    if latest is None:
        return
    number, approved_at = latest
    report.check(printed is not None and printed >= number, severity=WARNING, code="paper_kit_outdated",
                 message=_("The printed paper kit is older than approved version %(number)d: print it again.")
                 % {"number": number}, section="versions")
    report.check(plan.draft_changed_at <= approved_at, severity=INFO, code="draft_not_approved",
                 message=_("The draft has changes that are not approved yet."), section="versions")


# Pages and API -------------------------------------------------------------------------

def _check_improvement_actions(actions: list[Any], report: GapReport, today: datetime.date) -> None:
    """Improvement actions from a crisis's lessons learned, still open: information
    until their due date, a warning after it."""
    for action in actions:
        overdue = action.due_date < today
        report.check(False, severity=WARNING if overdue else INFO, code="improvement_action_open",
                     message=(_("Improvement action from the exercise of %(date)s open: %(title)s "
                                "(owner %(owner)s, due %(due)s).") if action.crisis.is_exercise else
                              _("Improvement action from the crisis of %(date)s open: %(title)s "
                                "(owner %(owner)s, due %(due)s).")) % {
                         "date": timezone.localtime(action.crisis.declared_at).strftime("%d/%m/%Y"),
                         "title": action.title, "owner": action.owner_label, "due": action.due_date.isoformat()},
                     section="improvement", item=str(action.pk))


@dataclass
class PlanRow:
    """One line of the list of plans in scope."""

    establishment: Any
    plan: Plan | None
    score: int | None
    blocking_count: int
    approved_at: datetime.datetime | None
    version_number: int | None


PLAN_LIST_SORTS = ("name", "score", "-score", "approved", "-approved")


def plan_list_for_user(*, user: Any, sort: str = "name") -> list[PlanRow]:
    """Every establishment in the user's scope with its plan's completeness and last
    approval (none yet: no plan, or never approved). A fixed number of queries."""
    from planblanc.directory.models import Establishment

    establishments = list(
        Establishment.objects.visible_to(user).select_related("region").order_by("name")
    )
    plans = list(
        Plan.objects.filter(establishment__in=[e.pk for e in establishments]).select_related("establishment")
    )
    reports = plan_gaps_many(plans=plans) if plans else {}
    latest: dict[int, tuple[int, datetime.datetime]] = {}
    for plan_id, number, approved_at in PlanVersion.objects.filter(plan__in=plans).order_by("number").values_list(
        "plan_id", "number", "approved_at"
    ):
        latest[plan_id] = (number, approved_at)
    plan_of = {plan.establishment_id: plan for plan in plans}
    rows = []
    for establishment in establishments:
        plan = plan_of.get(establishment.pk)
        report = reports.get(plan.pk) if plan else None
        number, approved_at = latest.get(plan.pk, (None, None)) if plan else (None, None)
        rows.append(PlanRow(
            establishment=establishment, plan=plan, score=report.score if report else None,
            blocking_count=report.blocking_count if report else 0, approved_at=approved_at, version_number=number,
        ))
    never = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    if sort in ("score", "-score"):
        rows.sort(key=lambda r: (r.score if r.score is not None else -1), reverse=sort == "-score")
    elif sort in ("approved", "-approved"):
        rows.sort(key=lambda r: r.approved_at or never, reverse=sort == "-approved")
    return rows


PART_RELATED: dict[str, tuple[tuple[str, ...], tuple[Any, ...]]] = {
    "seats": (("holder",), (Prefetch("deputies", queryset=SeatDeputy.objects.select_related("person")),)),
    "alert_tree": (("from_seat", "to_seat"), ()),
    "reflex_sheets": (("owner_seat",), ("items",)),
    "degraded_procedures": (("department",), ()),
    "it_systems": (("owner",), ()),
    "critical_processes": ((), ("systems",)),
    "contacts": ((), ()),
    "resources": ((), ()),
}


def plan_part_list(*, plan: Plan, model: Any, key: str) -> QuerySet[Any]:
    """The rows of one part of the draft, with what their list shows."""
    select, prefetch = PART_RELATED[key]
    return model._default_manager.filter(plan=plan).select_related(*select).prefetch_related(*prefetch)


def plan_section_counts(*, plan: Plan) -> dict[str, int]:
    """How many rows each part has, in one query (subqueries: joining all the parts at
    once would multiply their rows)."""

    def count(model: Any) -> Any:
        rows = model.objects.filter(plan=OuterRef("pk")).order_by().values("plan").annotate(n=Count("pk"))
        return Coalesce(Subquery(rows.values("n")), 0)

    models = {
        "seats": Seat, "alert_tree": AlertStep, "reflex_sheets": ReflexSheet,
        "degraded_procedures": DegradedProcedure, "critical_processes": CriticalProcess,
        "it_systems": ITSystem, "contacts": ExternalContact, "resources": Resource,
    }
    # Prefixed names: "seats" and others are already relations of Plan.
    counts = Plan.objects.filter(pk=plan.pk).values(
        **{f"n_{key}": count(model) for key, model in models.items()}
    ).first() or {}
    return {key: counts.get(f"n_{key}") or 0 for key in models}


def plan_version_get(*, plan: Plan, number: int) -> PlanVersion:
    from django.http import Http404

    version = plan.versions.filter(number=number).first()
    if version is None:
        raise Http404
    return version


def plan_compare(*, plan: Plan, left: str, right: str) -> dict[str, Any]:
    """Compare two versions ("3") or a version and the draft ("draft"): what was added,
    removed or changed per section, and who approved each side."""
    from django.http import Http404

    from planblanc.plans.snapshot import plan_snapshot, snapshot_diff

    def side(ref: str) -> dict[str, Any]:
        if ref == "draft":
            return {"ref": "draft", "version": None, "document": plan_snapshot(plan)}
        try:
            number = int(ref)
        except (TypeError, ValueError) as exc:
            raise Http404 from exc
        version = plan_version_get(plan=plan, number=number)
        return {"ref": str(number), "version": version, "document": version.snapshot}

    before, after = side(left), side(right)
    changes = snapshot_diff(before["document"], after["document"])
    sections: dict[str, list[dict[str, Any]]] = {}
    for change in changes:
        sections.setdefault(change["section"], []).append(change)
    return {"left": before, "right": after, "changes": changes, "sections": sections}
