"""The white plan's pages: thin calls to plans.selectors and plans.services.

Tenancy: every page reads the plan through plan_for_user (404 outside the user's scope).
Writing needs Perm.EDIT_PLAN over the establishment (403 for read-only roles, whose
pages show the same content without forms); approving is the director's act."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_GET, require_POST

from planblanc import rights
from planblanc.core.forms import run_service
from planblanc.directory.models import Establishment, Function
from planblanc.directory.validators import phone_display
from planblanc.plans import selectors, services
from planblanc.plans.durations import duration_display
from planblanc.plans.forms import (
    PARTS,
    PARTS_BY_SLUG,
    ApproveForm,
    DeputyAddForm,
    PartSpec,
    PlanCellForm,
    ReflexSheetForm,
    reflex_item_formset,
    reflex_items_data,
)
from planblanc.plans.models import (
    AlertMeans,
    CellKind,
    ContactKind,
    Criticality,
    Phase,
    Plan,
    ReflexSheet,
    ResourceKind,
    Seat,
)
from planblanc.tenancy import get_for_user


def _section_title(key: str) -> str:
    if key in PARTS:
        return str(PARTS[key].title)
    return str({"cell": _("Crisis cell"), "versions": _("Versions and paper kit")}.get(key, key))


def _plan(request: HttpRequest, establishment_id: int, *, write: bool = False) -> Plan:
    plan = selectors.plan_for_user(user=request.user, establishment_id=establishment_id)
    if write and not rights.may_edit_plan(request.user, plan):
        raise PermissionDenied(_("You are not allowed to change this plan."))
    return plan


def _spec(slug: str) -> PartSpec:
    spec = PARTS_BY_SLUG.get(slug)
    if spec is None:
        raise Http404
    return spec


def _section_url(plan: Plan, section: str) -> str:
    from django.urls import reverse

    if section in PARTS:
        return reverse("plans:part_list", args=[plan.establishment_id, PARTS[section].slug])
    if section == "versions":
        return reverse("plans:versions", args=[plan.establishment_id])
    return reverse("plans:cell", args=[plan.establishment_id])


def _base_context(request: HttpRequest, plan: Plan) -> dict[str, Any]:
    return {
        "plan": plan,
        "establishment": plan.establishment,
        "may_edit": rights.may_edit_plan(request.user, plan),
        "parts": PARTS.values(),
    }


# List and overview ------------------------------------------------------------------------

@login_required
def plan_index(request: HttpRequest) -> HttpResponse:
    """The menu's "Plan": one establishment in scope → its plan; several → the list."""
    establishments = list(Establishment.objects.visible_to(request.user).values_list("pk", flat=True)[:2])
    if len(establishments) == 1:
        return redirect("plans:overview", establishment_id=establishments[0])
    return redirect("plans:list")


@login_required
def plan_list(request: HttpRequest) -> HttpResponse:
    sort = request.GET.get("sort", "name")
    if sort not in selectors.PLAN_LIST_SORTS:
        sort = "name"
    rows = selectors.plan_list_for_user(user=request.user, sort=sort)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "plans/plan_list.html", {"page": page, "sort": sort, "total": len(rows)})


@login_required
def plan_overview(request: HttpRequest, establishment_id: int) -> HttpResponse:
    plan = Plan.objects.visible_to(request.user).select_related("establishment").filter(
        establishment_id=establishment_id
    ).first()
    if plan is None:
        establishment = get_for_user(request.user, Establishment, pk=establishment_id)
        return render(request, "plans/plan_start.html", {
            "establishment": establishment,
            "may_edit": rights.may_edit_plan(request.user, Plan(establishment=establishment)),
        })
    report = selectors.plan_gaps(plan=plan)
    counts = selectors.plan_section_counts(plan=plan)
    gaps_by_section: dict[str, int] = {}
    for gap in report.gaps:
        gaps_by_section[gap.section] = gaps_by_section.get(gap.section, 0) + 1
    sections = [
        {"key": "cell", "title": _section_title("cell"), "count": None, "url": _section_url(plan, "cell"),
         "gaps": gaps_by_section.get("cell", 0)},
    ] + [
        {"key": key, "title": spec.title, "count": counts.get(key, 0), "url": _section_url(plan, key),
         "gaps": gaps_by_section.get(key, 0)}
        for key, spec in PARTS.items()
    ]
    gaps = [
        {"gap": gap, "url": _section_url(plan, gap.section), "section": _section_title(gap.section)}
        for gap in report.by_severity()
    ]
    return render(request, "plans/plan_overview.html", {
        **_base_context(request, plan),
        "report": report, "sections": sections, "gaps": gaps,
        "latest": selectors.plan_latest_version(plan=plan),
        "may_approve": rights.may_approve_plan(request.user, plan),
    })


@login_required
@require_POST
def plan_start(request: HttpRequest, establishment_id: int) -> HttpResponse:
    establishment = get_for_user(request.user, Establishment, pk=establishment_id)
    services.plan_create(actor=request.user, establishment=establishment, from_template=True)
    messages.success(request, _("The plan was started from the French template: fill in the blanks."))
    return redirect("plans:overview", establishment_id=establishment.pk)


# Crisis cell (the plan's own fields) ------------------------------------------------------

@login_required
def plan_cell(request: HttpRequest, establishment_id: int) -> HttpResponse:
    plan = _plan(request, establishment_id, write=request.method == "POST")
    form = PlanCellForm(request.POST or None, instance=plan)
    if request.method == "POST" and form.is_valid():
        saved = run_service(form, lambda: services.plan_update_cell(
            actor=request.user, plan=plan, data=form.cleaned_data
        ))
        if saved is not None:
            messages.success(request, _("Changes saved."))
            return redirect("plans:cell", establishment_id=establishment_id)
    seats = selectors.plan_part_list(plan=plan, model=Seat, key="seats")
    return render(request, "plans/cell.html", {
        **_base_context(request, plan), "form": form, "seats": seats, "cell_kinds": CellKind.choices,
    })


# Generic part pages ---------------------------------------------------------------------

def _d(value: Any) -> str:
    return "" if value is None else str(value)


COLUMNS: dict[str, list[tuple[Any, Any]]] = {
    "seats": [
        (_l("Cell"), lambda o: o.get_cell_display()),
        (_l("Seat"), lambda o: o.title),
        (_l("Holder"), lambda o: o.holder.full_name if o.holder else "—"),
        (_l("Deputies"), lambda o: ", ".join(f"{d.rank}. {d.person.full_name}" for d in o.deputies.all()) or "—"),
    ],
    "alert_tree": [
        ("#", lambda o: o.order),
        (_l("Who alerts"), lambda o: o.from_seat.title if o.from_seat else _("Whoever detects the incident")),
        (_l("Who is alerted"), lambda o: o.to_seat.title),
        (_l("Means"), lambda o: " / ".join(filter(None, [o.get_means_display(), o.get_fallback_means_display()]))),
        (_l("Within"), lambda o: _("%(n)d min") % {"n": o.delay_minutes} if o.delay_minutes is not None else "—"),
    ],
    "reflex_sheets": [
        (_l("Title"), lambda o: o.title),
        (_l("Role"), lambda o: o.get_owner_function_display() or (o.owner_seat.title if o.owner_seat else "—")),
        (_l("Actions"), lambda o: len(o.items.all())),
    ],
    "degraded_procedures": [
        (_l("Department"), lambda o: o.department.name if o.department else o.get_department_kind_display()),
        (_l("Title"), lambda o: o.title),
    ],
    "critical_processes": [
        (_l("Process"), lambda o: o.name),
        (_l("MTD"), lambda o: duration_display(o.max_tolerable_downtime) or "—"),
        (_l("RTO"), lambda o: duration_display(o.rto) or "—"),
        (_l("RPO"), lambda o: duration_display(o.rpo) or "—"),
        (_l("IT systems"), lambda o: ", ".join(s.name for s in o.systems.all()) or "—"),
        (_l("Recovery order"), lambda o: _d(o.recovery_order) or "—"),
    ],
    "it_systems": [
        (_l("System"), lambda o: o.name),
        (_l("Criticality"), lambda o: o.get_criticality_display()),
        (_l("Owner"), lambda o: o.owner.full_name if o.owner else "—"),
        (_l("Vendor 24/7"), lambda o: " ".join(filter(None, [o.vendor, phone_display(o.vendor_contact_24_7)])) or "—"),
        (_l("Offline copy"), lambda o: _("yes") if o.has_offline_copy else _("no")),
        (_l("Last restore test"), lambda o: o.last_restore_test.isoformat() if o.last_restore_test else "—"),
        (_l("Recovery order"), lambda o: _d(o.recovery_order) or "—"),
    ],
    "contacts": [
        (_l("Kind"), lambda o: o.get_kind_display()),
        (_l("Organisation"), lambda o: " — ".join(filter(None, [o.organisation, o.name]))),
        (_l("Phone"), lambda o: phone_display(o.phone) or "—"),
        (_l("24/7 phone"), lambda o: phone_display(o.phone_24_7) or "—"),
        (_l("Email"), lambda o: o.email or "—"),
    ],
    "resources": [
        (_l("Kind"), lambda o: o.get_kind_display()),
        (_l("Description"), lambda o: o.description or "—"),
        (_l("Quantity"), lambda o: o.quantity),
        (_l("Where"), lambda o: o.location),
        (_l("Last checked"), lambda o: o.checked_on.isoformat() if o.checked_on else "—"),
    ],
}


def _part_rows(plan: Plan, spec: PartSpec) -> tuple[list[str], list[tuple[Any, list[tuple[str, str]]]]]:
    objects = selectors.plan_part_list(plan=plan, model=spec.model, key=spec.key)
    columns = COLUMNS[spec.key]
    headers = [str(label) for label, _f in columns]
    return headers, [(obj, [(str(label), str(f(obj))) for label, f in columns]) for obj in objects]


def _part_page(request: HttpRequest, plan: Plan, spec: PartSpec, form: Any = None, instance: Any = None,
               status: int = 200) -> HttpResponse:
    headers, rows = _part_rows(plan, spec)
    report = selectors.plan_gaps(plan=plan)
    context = {
        **_base_context(request, plan), "spec": spec, "headers": headers, "rows": rows, "form": form,
        "instance": instance, "section_gaps": [g for g in report.by_severity() if g.section == spec.key],
    }
    if spec.key == "seats" and instance is not None and instance.pk:
        context["deputies"] = list(instance.deputies.select_related("person"))
        context["deputy_form"] = DeputyAddForm(plan=plan)
    return render(request, "plans/part.html", context, status=status)


@login_required
def part_list(request: HttpRequest, establishment_id: int, part: str) -> HttpResponse:
    plan = _plan(request, establishment_id)
    return _part_page(request, plan, _spec(part))


def _instance(request: HttpRequest, plan: Plan, spec: PartSpec, pk: int) -> Any:
    return get_for_user(request.user, spec.model._default_manager.filter(plan=plan), pk=pk)


@login_required
def part_edit(request: HttpRequest, establishment_id: int, part: str, pk: int | None = None) -> HttpResponse:
    """Add (no pk) or edit one row of a part. Read-only roles see the row, no form."""
    spec = _spec(part)
    if spec.key == "reflex_sheets":
        return reflex_sheet_edit(request, establishment_id, pk)
    plan = _plan(request, establishment_id, write=request.method == "POST")
    instance = _instance(request, plan, spec, pk) if pk else spec.model(plan=plan)
    if not rights.may_edit_plan(request.user, plan):
        read_only = spec.form(instance=instance, plan=plan)
        for field in read_only.fields.values():
            field.disabled = True
        return _part_page(request, plan, spec, form=read_only, instance=instance)
    form = spec.form(request.POST or None, instance=instance, plan=plan)
    if request.method == "POST" and form.is_valid():
        data, m2m = form.service_data()
        saved = run_service(form, lambda: services.plan_part_save(
            actor=request.user, plan=plan, instance=form.instance, data=data, m2m=m2m
        ))
        if saved is not None:
            messages.success(request, _("Changes saved."))
            if spec.key == "seats" and not pk:
                return redirect("plans:part_edit", establishment_id=establishment_id, part=part, pk=saved.pk)
            return redirect("plans:part_list", establishment_id=establishment_id, part=part)
    status = 422 if request.method == "POST" else 200
    return _part_page(request, plan, spec, form=form, instance=instance, status=status)


@login_required
@require_POST
def part_delete(request: HttpRequest, establishment_id: int, part: str, pk: int) -> HttpResponse:
    spec = _spec(part)
    plan = _plan(request, establishment_id, write=True)
    instance = _instance(request, plan, spec, pk)
    services.plan_part_delete(actor=request.user, plan=plan, instance=instance)
    messages.success(request, _("“%(name)s” deleted.") % {"name": instance})
    return redirect("plans:part_list", establishment_id=establishment_id, part=part)


@login_required
@require_POST
def seat_deputies(request: HttpRequest, establishment_id: int, pk: int) -> HttpResponse:
    """Add, move up/down or remove one deputy; the service replaces the ordered list."""
    plan = _plan(request, establishment_id, write=True)
    seat = _instance(request, plan, PARTS["seats"], pk)
    people = [deputy.person for deputy in seat.deputies.select_related("person")]
    action = request.POST.get("action", "")
    verb, _sep, index_text = action.partition("-")
    try:
        index = int(index_text) if index_text else -1
    except ValueError:
        index = -1
    if verb == "add":
        form = DeputyAddForm(request.POST, plan=plan)
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, " ".join(errors))
            return redirect("plans:part_edit", establishment_id=establishment_id, part="sieges", pk=pk)
        people.append(form.cleaned_data["person"])
    elif 0 <= index < len(people):
        if verb == "up" and index > 0:
            people[index - 1], people[index] = people[index], people[index - 1]
        elif verb == "down" and index < len(people) - 1:
            people[index + 1], people[index] = people[index], people[index + 1]
        elif verb == "remove":
            people.pop(index)
    try:
        services.seat_set_deputies(actor=request.user, seat=seat, people=people)
        messages.success(request, _("Deputies saved."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("plans:part_edit", establishment_id=establishment_id, part="sieges", pk=pk)


# Reflex sheet editor ---------------------------------------------------------------------

def _move(items: list[dict[str, Any]], index: int, step: int) -> list[dict[str, Any]]:
    """Swap an action with the nearest one of the same phase above or below."""
    if not 0 <= index < len(items):
        return items
    target = index + step
    while 0 <= target < len(items) and items[target]["phase"] != items[index]["phase"]:
        target += step
    if 0 <= target < len(items):
        items[index], items[target] = items[target], items[index]
    return items


@login_required
def reflex_sheet_edit(request: HttpRequest, establishment_id: int, pk: int | None = None) -> HttpResponse:
    spec = PARTS["reflex_sheets"]
    plan = _plan(request, establishment_id, write=request.method == "POST")
    sheet = _instance(request, plan, spec, pk) if pk else ReflexSheet(plan=plan)
    phase_rank = {code: rank for rank, (code, _label) in enumerate(Phase.choices)}
    existing = sorted(sheet.items.all(), key=lambda i: (phase_rank.get(i.phase, 9), i.order)) if sheet.pk else []
    may_edit = rights.may_edit_plan(request.user, plan)
    if not may_edit:
        return render(request, "plans/reflex_sheet.html", {
            **_base_context(request, plan), "sheet": sheet, "items": existing, "spec": spec,
        })
    form = ReflexSheetForm(request.POST or None, instance=sheet, plan=plan)
    initial = [
        {"phase": i.phase, "text": i.text, "due_minutes": i.due_minutes, "becomes_task": i.becomes_task}
        for i in existing
    ]
    if request.method == "POST":
        formset = reflex_item_formset(rows=0)(request.POST, prefix="items")
    else:
        formset = reflex_item_formset(rows=len(initial) + 3)(initial=initial, prefix="items")
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid() and formset.is_valid():
            items = reflex_items_data(formset)
            action = request.POST.get("action", "save")
            verb, _sep, index_text = action.partition("-")
            if verb in ("up", "down") and index_text.isdigit():
                # The button names a row of the page; find it among the rows kept.
                kept = [
                    n for n, f in enumerate(formset.forms)
                    if getattr(f, "cleaned_data", None) and not f.cleaned_data.get("DELETE")
                    and (f.cleaned_data.get("text") or "").strip()
                ]
                if int(index_text) in kept:
                    items = _move(items, kept.index(int(index_text)), -1 if verb == "up" else 1)
            items.sort(key=lambda item: phase_rank.get(item["phase"], 9))
            saved = run_service(form, lambda: services.reflex_sheet_save(
                actor=request.user, plan=plan, sheet=form.instance, data=form.cleaned_data, items=items
            ))
            if saved is not None:
                messages.success(request, _("Reflex sheet saved."))
                if verb in ("up", "down"):
                    return redirect("plans:reflex_sheet_edit", establishment_id=establishment_id, pk=saved.pk)
                return redirect("plans:part_list", establishment_id=establishment_id, part=spec.slug)
    return render(request, "plans/reflex_sheet.html", {
        **_base_context(request, plan), "sheet": sheet, "items": existing, "spec": spec,
        "form": form, "formset": formset,
    }, status=status)


# Versions, comparison, approval -----------------------------------------------------------

@login_required
@require_GET
def plan_versions(request: HttpRequest, establishment_id: int) -> HttpResponse:
    plan = _plan(request, establishment_id)
    return render(request, "plans/versions.html", {
        **_base_context(request, plan), "versions": selectors.plan_versions(plan=plan),
    })


def readable(document: dict[str, Any]) -> dict[str, Any]:
    """Labels for the codes of a snapshot, in the reader's language."""
    functions, cells, means = dict(Function.choices), dict(CellKind.choices), dict(AlertMeans.choices)
    seat_titles = {seat["key"]: seat["title"] for seat in document.get("seats", [])}
    from planblanc.directory.models import DepartmentKind

    def seconds(value: Any) -> str:
        import datetime

        return duration_display(datetime.timedelta(seconds=value)) if value is not None else "—"

    return {
        "cell": document.get("cell", {}),
        "establishment": document.get("establishment", {}),
        "seats": [
            {**seat, "cell_label": cells.get(seat["cell"], seat["cell"]),
             "function_label": functions.get(seat["function"], "")}
            for seat in document.get("seats", [])
        ],
        "alert_tree": [
            {**step, "from_label": seat_titles.get(step["from_seat"], _("Whoever detects the incident")),
             "to_label": seat_titles.get(step["to_seat"], ""), "means_label": means.get(step["means"], ""),
             "fallback_label": means.get(step["fallback_means"], "")}
            for step in document.get("alert_tree", [])
        ],
        "reflex_sheets": [
            {**sheet, "owner_label": functions.get(sheet["owner_function"], "")
             or seat_titles.get(sheet["owner_seat"], ""),
             "items": [{**item, "phase_label": dict(Phase.choices).get(item["phase"], "")} for item in sheet["items"]]}
            for sheet in document.get("reflex_sheets", [])
        ],
        "degraded_procedures": [
            {**p, "department_label": dict(DepartmentKind.choices).get(p["department_kind"], "")}
            for p in document.get("degraded_procedures", [])
        ],
        "critical_processes": [
            {**p, "mtd": seconds(p["max_tolerable_downtime_seconds"]), "rto": seconds(p["rto_seconds"]),
             "rpo": seconds(p["rpo_seconds"])}
            for p in document.get("critical_processes", [])
        ],
        "it_systems": [
            {**s, "criticality_label": dict(Criticality.choices).get(s["criticality"], "")}
            for s in document.get("it_systems", [])
        ],
        "contacts": [
            {**c, "kind_label": dict(ContactKind.choices).get(c["kind"], "")} for c in document.get("contacts", [])
        ],
        "resources": [
            {**r, "kind_label": dict(ResourceKind.choices).get(r["kind"], "")} for r in document.get("resources", [])
        ],
    }


@login_required
@require_GET
def plan_version(request: HttpRequest, establishment_id: int, number: int) -> HttpResponse:
    plan = _plan(request, establishment_id)
    version = selectors.plan_version_get(plan=plan, number=number)
    return render(request, "plans/version.html", {
        **_base_context(request, plan), "version": version, "doc": readable(version.snapshot),
    })


@login_required
@require_GET
def plan_compare(request: HttpRequest, establishment_id: int) -> HttpResponse:
    plan = _plan(request, establishment_id)
    versions = list(selectors.plan_versions(plan=plan))
    default_right = "draft"
    default_left = str(versions[0].number) if versions else "draft"
    left = request.GET.get("a", default_left)
    right = request.GET.get("b", default_right)
    comparison = selectors.plan_compare(plan=plan, left=left, right=right)
    sections = [
        {"key": key, "title": _section_title(key), "changes": changes}
        for key, changes in comparison["sections"].items()
    ]
    return render(request, "plans/compare.html", {
        **_base_context(request, plan), "versions": versions, "left": comparison["left"],
        "right": comparison["right"], "sections": sections, "change_count": len(comparison["changes"]),
    })


@login_required
def plan_approve(request: HttpRequest, establishment_id: int) -> HttpResponse:
    plan = _plan(request, establishment_id)
    may_approve = rights.may_approve_plan(request.user, plan)
    form = ApproveForm(request.POST if request.method == "POST" else None)
    refusal = "" if may_approve else _(
        "Only the director of the establishment or a deputy director may approve its plan."
    )
    blocking_refusal: list[str] = []
    # Reading the page is allowed (it explains who approves); posting without the right is a 403.
    status = 200 if may_approve or request.method != "POST" else 403
    if request.method == "POST" and form.is_valid():
        try:
            version = services.plan_approve(actor=request.user, plan=plan, note=form.cleaned_data["note"])
        except PermissionDenied as exc:
            refusal = str(exc)
            status = 403
        except ValidationError as exc:
            blocking_refusal = exc.messages
            status = 422
        else:
            messages.success(request, _("Version %(number)d approved.") % {"number": version.number})
            return redirect("plans:version", establishment_id=establishment_id, number=version.number)
    report = selectors.plan_gaps(plan=plan)
    blocking = [
        {"gap": gap, "url": _section_url(plan, gap.section)} for gap in report.gaps if gap.blocking
    ]
    return render(request, "plans/approve.html", {
        **_base_context(request, plan), "form": form, "may_approve": may_approve, "refusal": refusal,
        "blocking": blocking, "blocking_refusal": blocking_refusal, "report": report,
        "latest": selectors.plan_latest_version(plan=plan),
    }, status=status)
