"""Mutual-aid pages, thin over services and selectors. Phone first: plain POST forms that
come back to the page they were sent from; what is outside the user's scope is a 404."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from planblanc import rights
from planblanc.core import tabular
from planblanc.core.forms import run_service
from planblanc.crisis import services as crisis_services
from planblanc.crisis.models import CrisisStatus, CrisisTask
from planblanc.directory.models import Establishment, Group, Region
from planblanc.mutual_aid import catalogue_io, edxl, selectors, services, tasks
from planblanc.mutual_aid.forms import (
    CellCloseForm,
    CellDecisionForm,
    CellEntryForm,
    CellTaskForm,
    EdxlImportForm,
    HelpRequestForm,
    ImportForm,
    OfferForm,
    OwnerForm,
    RegionalAlertForm,
    RegionalOpenForm,
    ResourceForm,
    ResponderRouteForm,
    SituationReportForm,
    next_report_default,
)
from planblanc.mutual_aid.models import (
    AidOffer,
    OwnerLevel,
    RegionalCrisis,
    Resource,
    ResourceImport,
    ResourceKind,
    ResponderRoute,
    SituationReport,
)
from planblanc.tenancy import Perm, get_for_user, scope_for


def _owners(user: Any) -> list[tuple[str, str]]:
    """The catalogues this user keeps: 'establishment:12', 'group:3', 'region:1'."""
    scope = scope_for(user, Perm.OFFER_AID)
    owners: list[tuple[str, str]] = []
    regions = Region.objects.all() if scope.national else Region.objects.filter(pk__in=scope.region_ids)
    owners += [(f"region:{r.pk}", f"{r.agency_name or r.name}") for r in regions.order_by("name")[:30]]
    groups = Group.objects.all() if scope.national else Group.objects.filter(pk__in=scope.group_ids) | Group.objects.filter(
        region_id__in=scope.region_ids)
    owners += [(f"group:{g.pk}", g.name) for g in groups.order_by("name")[:100]]
    owners += [(f"establishment:{e.pk}", e.name)
               for e in Establishment.objects.visible_to(user, Perm.OFFER_AID).order_by("name")[:200]]
    return owners


def _owner_from(value: str, user: Any) -> tuple[str, Any]:
    level, _sep, pk = (value or "").partition(":")
    model = {"establishment": Establishment, "group": Group, "region": Region}.get(level)
    if model is None or not pk.isdigit():
        raise Http404
    owner = model.objects.filter(pk=int(pk)).first()
    if owner is None or (level, value) and value not in {o for o, _label in _owners(user)}:
        raise Http404
    return level, owner


@login_required
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    mine = list(Establishment.objects.visible_to(user, Perm.RUN_CRISIS).order_by("name")[:50])
    active = {c.establishment_id: c for c in selectors.Crisis.objects.visible_to(user, Perm.RUN_CRISIS).filter(
        status=CrisisStatus.ACTIVE)}
    return render(request, "mutual_aid/index.html", {
        "requests": list(selectors.request_list(user=user)[:100]),
        "mine": [(e, active.get(e.pk)) for e in mine],
        "regionals": list(selectors.regional_crisis_list(user=user).filter(crisis__status=CrisisStatus.ACTIVE)[:20]),
        "may_run_region": rights.may_run_a_regional_cell(user),
    })


# Catalogue ------------------------------------------------------------------------------


@login_required
def catalogue(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    if kind and kind not in ResourceKind.values:
        kind = ""
    rows = list(selectors.resource_list(user=request.user, kind=kind, search=request.GET.get("q", "").strip())[:500])
    writable = {o for o, _label in _owners(request.user)}
    for row in rows:
        key = (f"establishment:{row.establishment_id}" if row.establishment_id else
               f"group:{row.group_id}" if row.group_id else f"region:{row.region_id}")
        row.may_edit = key in writable
    return render(request, "mutual_aid/catalogue.html", {
        "rows": rows, "kinds": ResourceKind.choices, "kind": kind, "q": request.GET.get("q", ""),
        "may_add": bool(writable), "may_route": any(not o.startswith("establishment:") for o in writable),
    })


@login_required
def catalogue_export(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in catalogue_io.FORMATS:
        raise Http404
    response = catalogue_io.export_response(
        selectors.resource_list(user=request.user).iterator(), fmt=fmt,
        filename=f"planblanc-ressources-{timezone.localdate():%Y-%m-%d}.{fmt}")
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def resource_create(request: HttpRequest) -> HttpResponse:
    owners = _owners(request.user)
    if not owners:
        raise Http404
    owner_form = OwnerForm(request.POST or None, owners=owners)
    form = ResourceForm(request.POST or None)
    if request.method == "POST" and owner_form.is_valid() and form.is_valid():
        level, owner = _owner_from(owner_form.cleaned_data["owner"], request.user)
        if run_service(form, lambda: services.resource_create(
                actor=request.user, level=level, owner=owner, data=form.cleaned_data)):
            messages.success(request, _("Resource added to the catalogue."))
            return redirect("mutual_aid:catalogue")
    return render(request, "mutual_aid/resource_form.html", {"form": form, "owner_form": owner_form})


@login_required
@require_http_methods(["GET", "POST"])
def resource_edit(request: HttpRequest, pk: int) -> HttpResponse:
    resource = get_for_user(request.user, Resource.objects.select_related("establishment", "group", "region"), pk=pk)
    initial = {f: getattr(resource, f) for f in ResourceForm.base_fields}
    form = ResourceForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if "delete" in request.POST:
            try:
                services.resource_delete(actor=request.user, resource=resource)
            except PermissionDenied:
                raise Http404 from None
            messages.success(request, _("Resource removed from the catalogue."))
            return redirect("mutual_aid:catalogue")
        if form.is_valid():
            try:
                done = run_service(form, lambda: services.resource_update(
                    actor=request.user, resource=resource, data=form.cleaned_data))
            except PermissionDenied:
                raise Http404 from None
            if done:
                messages.success(request, _("Resource updated."))
                return redirect("mutual_aid:catalogue")
    return render(request, "mutual_aid/resource_form.html", {"form": form, "resource": resource})


@login_required
@require_http_methods(["GET", "POST"])
def catalogue_import(request: HttpRequest) -> HttpResponse:
    owners = _owners(request.user)
    if not owners:
        raise Http404
    owner_form = OwnerForm(request.POST or None, owners=owners)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and owner_form.is_valid() and form.is_valid():
        level, owner = _owner_from(owner_form.cleaned_data["owner"], request.user)
        upload = form.cleaned_data["file"]
        if upload.size > tabular.max_upload_bytes():
            form.add_error("file", _("The file is larger than %(size)d MB.") % {
                "size": tabular.max_upload_bytes() // 2**20})
        else:
            batch = run_service(form, lambda: catalogue_io.import_upload(
                actor=request.user, level=level, owner=owner, filename=upload.name, content=upload.read()))
            if batch:
                return redirect("mutual_aid:catalogue_import_preview", pk=batch.pk)
    return render(request, "mutual_aid/import.html", {"form": form, "owner_form": owner_form,
                                                      "columns": catalogue_io.COLUMNS})


@login_required
@require_http_methods(["GET", "POST"])
def catalogue_import_preview(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_for_user(request.user, ResourceImport.objects.filter(uploaded_by=request.user, applied_at=None), pk=pk)
    if request.method == "POST":
        try:
            count = catalogue_io.import_apply(actor=request.user, batch=batch)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        except PermissionDenied:
            raise Http404 from None
        else:
            messages.success(request, _("%(count)d resources added to the catalogue.") % {"count": count})
            return redirect("mutual_aid:catalogue")
    return render(request, "mutual_aid/import_preview.html", {"batch": batch})


# Help requests --------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def request_create(request: HttpRequest, crisis_id: int) -> HttpResponse:
    crisis = selectors.crisis_for_requester(user=request.user, pk=crisis_id)
    requester = crisis.establishment
    if not services.may_request_for(actor=request.user, establishment=requester):
        raise Http404
    others = Establishment.objects.visible_to(request.user).filter(region=requester.region).exclude(
        pk=requester.pk).order_by("name")
    form = HelpRequestForm(request.POST or None, establishments=others,
                           initial={"deliver_to": f"{requester.name}, {requester.address} {requester.city}".strip(", ")})
    if request.method == "POST" and form.is_valid():
        made = run_service(form, lambda: services.help_request_create(
            actor=request.user, requester=requester, crisis=crisis, data=form.cleaned_data))
        if made:
            tasks.wake_escalation(run_after=made.answer_due_at)
            messages.success(request, _("Help request sent; the on-call responders are alerted."))
            return redirect("mutual_aid:request_detail", pk=made.pk)
    return render(request, "mutual_aid/request_form.html", {"form": form, "crisis": crisis})


def _level_label(level: str, owner: Any) -> str:
    if level == OwnerLevel.REGION:
        return owner.agency_name or owner.name
    return owner.name


@login_required
@require_http_methods(["GET", "POST"])
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    help_request = selectors.request_for_user(user=request.user, pk=pk)
    sides = services.acting_levels(actor=request.user, request=help_request)
    offer_form = None
    if sides and help_request.is_open:
        resources = Resource.objects.visible_to(request.user).filter(region=help_request.region)
        offer_form = OfferForm(request.POST or None, levels=[(lvl, _level_label(lvl, o)) for lvl, o in sides],
                               resources=resources, initial={"what": help_request.what})
        if request.method == "POST" and offer_form.is_valid():
            data = offer_form.cleaned_data
            made = run_service(offer_form, lambda: services.aid_offer_create(
                actor=request.user, request=help_request, level=data["level"], data=data,
                resource=data.get("resource")))
            if made:
                messages.success(request, _("Offer sent to %(who)s.") % {"who": help_request.requester.name})
                return redirect("mutual_aid:request_detail", pk=help_request.pk)
    elif request.method == "POST":
        raise Http404
    offers = list(help_request.offers.select_related("offerer_establishment", "offerer_group", "offerer_region"))
    for offer in offers:
        offer.edxl_types = edxl.offer_message_types(offer)
    return render(request, "mutual_aid/request_detail.html", {
        "req": help_request, "offers": offers, "offer_form": offer_form,
        "is_requester": services.may_request_for(actor=request.user, establishment=help_request.requester),
        "may_mark": {o.pk for o in offers if services.may_mark(request.user, o)},
        "alerts": list(help_request.alerts.select_related("campaign")[:20]),
    })


@login_required
@require_POST
def offer_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    offer = selectors.offer_for_user(user=request.user, pk=pk)
    step = services.offer_step(action)
    if step is None:
        raise Http404
    try:
        step(actor=request.user, offer=offer)
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("mutual_aid:request_detail", pk=offer.request_id)


@login_required
@require_POST
def request_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    help_request = selectors.request_for_user(user=request.user, pk=pk)
    try:
        services.help_request_cancel(actor=request.user, request=help_request)
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("mutual_aid:request_detail", pk=help_request.pk)


def _xml_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/xml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def request_edxl(request: HttpRequest, pk: int) -> HttpResponse:
    help_request = selectors.request_for_user(user=request.user, pk=pk)
    return _xml_response(edxl.request_to_xml(help_request), f"RequestResource-{help_request.pk}.xml")


@login_required
def offer_edxl(request: HttpRequest, pk: int, message_type: str) -> HttpResponse:
    offer = selectors.offer_for_user(user=request.user, pk=pk)
    if message_type not in edxl.offer_message_types(offer):
        raise Http404
    return _xml_response(edxl.offer_to_xml(offer, message_type), f"{message_type}-{offer.pk}.xml")


@login_required
@require_http_methods(["GET", "POST"])
def edxl_import(request: HttpRequest) -> HttpResponse:
    form = EdxlImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > edxl.MAX_IMPORT_BYTES:
            form.add_error("file", _("The file is larger than %(size)d KB.") % {"size": edxl.MAX_IMPORT_BYTES // 1024})
        else:
            try:
                made = run_service(form, lambda: services.edxl_import(actor=request.user, content=upload.read()))
            except PermissionDenied:
                form.add_error("file", _("You do not act for this establishment, its group or its region."))
                made = None
            if made:
                if not isinstance(made, AidOffer):
                    tasks.wake_escalation(run_after=made.answer_due_at)
                pk = made.request_id if isinstance(made, AidOffer) else made.pk
                messages.success(request, _("EDXL-RM message recorded."))
                return redirect("mutual_aid:request_detail", pk=pk)
    return render(request, "mutual_aid/edxl_import.html", {"form": form})


# Situation reports ----------------------------------------------------------------------


def _prefill(crisis: Any) -> dict[str, Any]:
    """The form pre-filled from the last report, then from the crisis status board."""
    last = SituationReport.objects.filter(crisis=crisis).order_by("-at").first()
    regional = services.open_regional_crisis(region_id=crisis.establishment.region_id, is_exercise=crisis.is_exercise)
    hours = regional.report_every_hours if regional else 4
    if last is not None:
        return {f: getattr(last, f) for f in ("ed_status", "beds_deprogrammed", "surgeries_deprogrammed",
                                              "lab_on_paper", "imaging_on_paper", "patients_transferred", "needs")} | {
            "next_report_at": next_report_default(hours)}
    statuses = {row.department.kind if row.department_id else "": row.status
                for row in crisis.department_statuses.select_related("department")}
    ed = statuses.get("emergency", "normal")
    return {
        "ed_status": {"normal": "open", "degraded": "restricted", "stopped": "diverted"}.get(ed, "open"),
        "lab_on_paper": statuses.get("laboratory", "normal") != "normal",
        "imaging_on_paper": statuses.get("imaging", "normal") != "normal",
        "next_report_at": next_report_default(hours),
    }


@login_required
@require_http_methods(["GET", "POST"])
def situation_report(request: HttpRequest, crisis_id: int) -> HttpResponse:
    crisis = selectors.crisis_for_requester(user=request.user, pk=crisis_id)
    may_write = services.may_request_for(actor=request.user, establishment=crisis.establishment) and (
        crisis.status == CrisisStatus.ACTIVE)
    form = SituationReportForm(request.POST or None, initial=_prefill(crisis)) if may_write else None
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid() and run_service(form, lambda: services.situation_report_create(
                actor=request.user, crisis=crisis, data=form.cleaned_data)):
            messages.success(request, _("Situation report sent."))
            return redirect("mutual_aid:situation_report", crisis_id=crisis.pk)
    reports = selectors.reports_of(crisis=crisis)
    return render(request, "mutual_aid/situation_report.html", {
        "crisis": crisis, "form": form, "reports": reports,
        "late": selectors.report_is_late(reports[0] if reports else None, crisis),
    })


@login_required
def hospital_status(request: HttpRequest, crisis_id: int) -> HttpResponse:
    crisis = selectors.crisis_for_requester(user=request.user, pk=crisis_id)
    report = SituationReport.objects.filter(crisis=crisis).select_related("establishment").order_by("-at").first()
    if report is None:
        raise Http404
    return _xml_response(edxl.hospital_status_xml([report]), f"HospitalStatus-{crisis.establishment.finess}.xml")


# Regional crisis cell -------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def regional_list(request: HttpRequest) -> HttpResponse:
    scope = scope_for(request.user, Perm.RUN_REGIONAL_CELL)
    regions = list(Region.objects.filter(pk__in=scope.region_ids).order_by("name"))
    form = RegionalOpenForm(request.POST or None) if regions else None
    if request.method == "POST":
        if form is None:
            raise Http404
        region = next((r for r in regions if str(r.pk) == request.POST.get("region")), regions[0])
        if form.is_valid():
            data = form.cleaned_data
            made = run_service(form, lambda: services.regional_crisis_open(
                actor=request.user, region=region, title=data["title"], is_exercise=data["is_exercise"],
                report_every_hours=data["report_every_hours"]))
            if made:
                if data["link_all"]:
                    services.regional_crisis_link_all(actor=request.user, regional=made)
                return redirect("mutual_aid:regional_board", pk=made.pk)
    return render(request, "mutual_aid/regional_list.html", {
        "regionals": list(selectors.regional_crisis_list(user=request.user)[:50]), "form": form, "regions": regions,
    })


@login_required
def regional_board(request: HttpRequest, pk: int) -> HttpResponse:
    regional = selectors.regional_crisis_for_user(user=request.user, pk=pk)
    board = selectors.regional_board(regional=regional)
    may_run = selectors.may_run_regional(user=request.user, regional=regional) and regional.crisis.is_active
    return render(request, "mutual_aid/regional_board.html", {
        "board": board, "regional": regional, "may_run": may_run,
        "alert_form": RegionalAlertForm() if may_run else None,
    })


def _regional_write(request: HttpRequest, pk: int) -> RegionalCrisis:
    regional = selectors.regional_crisis_for_user(user=request.user, pk=pk)
    if not selectors.may_run_regional(user=request.user, regional=regional):
        raise Http404
    return regional


@login_required
@require_POST
def regional_link(request: HttpRequest, pk: int) -> HttpResponse:
    regional = _regional_write(request, pk)
    crisis = selectors.Crisis.objects.filter(pk=request.POST.get("crisis") or 0, establishment__isnull=False).first()
    if crisis is None:
        raise Http404
    try:
        services.regional_crisis_link(actor=request.user, regional=regional, crisis=crisis)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("mutual_aid:regional_board", pk=regional.pk)


@login_required
@require_POST
def regional_alert(request: HttpRequest, pk: int) -> HttpResponse:
    regional = _regional_write(request, pk)
    form = RegionalAlertForm(request.POST)
    if form.is_valid() and run_service(form, lambda: services.regional_alert_send(
            actor=request.user, regional=regional, message=form.cleaned_data["message"])):
        messages.success(request, _("Regional alert sent."))
        return redirect("mutual_aid:regional_board", pk=regional.pk)
    board = selectors.regional_board(regional=regional)
    return render(request, "mutual_aid/regional_board.html", {
        "board": board, "regional": regional, "may_run": True, "alert_form": form,
    }, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def regional_logbook(request: HttpRequest, pk: int) -> HttpResponse:
    """The regional cell's logbook, decisions and tasks: the crisis console's services on
    the region-owned crisis row."""
    regional = selectors.regional_crisis_for_user(user=request.user, pk=pk)
    crisis = regional.crisis
    may_run = selectors.may_run_regional(user=request.user, regional=regional) and crisis.is_active
    entry_form = CellEntryForm(request.POST if "entry" in request.POST else None, prefix="entry")
    decision_form = CellDecisionForm(request.POST if "decision" in request.POST else None, prefix="decision")
    task_form = CellTaskForm(request.POST if "task" in request.POST else None, prefix="task")
    close_form = CellCloseForm(request.POST if "close" in request.POST else None, prefix="close")
    if request.method == "POST":
        if not may_run:
            raise Http404
        done = None
        if "entry" in request.POST and entry_form.is_valid():
            done = run_service(entry_form, lambda: crisis_services.logbook_append(
                actor=request.user, crisis=crisis, kind=entry_form.cleaned_data["kind"],
                text=entry_form.cleaned_data["text"]))
        elif "decision" in request.POST and decision_form.is_valid():
            done = run_service(decision_form, lambda: crisis_services.decision_record(
                actor=request.user, crisis=crisis, text=decision_form.cleaned_data["text"],
                rationale=decision_form.cleaned_data.get("rationale", ""),
                decided_by=decision_form.cleaned_data.get("decided_by", "")))
        elif "task" in request.POST and task_form.is_valid():
            done = run_service(task_form, lambda: crisis_services.task_create(
                actor=request.user, crisis=crisis, title=task_form.cleaned_data["title"],
                owner_label=task_form.cleaned_data.get("owner_label", ""),
                due_at=_due(task_form.cleaned_data.get("due_in_minutes"))))
        elif "close" in request.POST and close_form.is_valid():
            done = run_service(close_form, lambda: crisis_services.crisis_close(
                actor=request.user, crisis=crisis, summary=close_form.cleaned_data["summary"]))
            if done:
                return redirect("mutual_aid:regional_board", pk=regional.pk)
        elif "task_done" in request.POST:
            task = CrisisTask.objects.filter(crisis=crisis, pk=request.POST.get("task_done") or 0).first()
            if task is None:
                raise Http404
            done = crisis_services.task_set_status(actor=request.user, task=task, status="done")
        if done:
            return redirect("mutual_aid:regional_logbook", pk=regional.pk)
    from planblanc.crisis.chain import logbook_verify

    return render(request, "mutual_aid/regional_logbook.html", {
        "regional": regional, "crisis": crisis, "may_run": may_run,
        "entries": list(crisis.entries.order_by("-seq")[:200]),
        "decisions": list(crisis.decisions.all()[:100]), "tasks": list(crisis.tasks.all()[:100]),
        "entry_form": entry_form, "decision_form": decision_form, "task_form": task_form, "close_form": close_form,
        "verify": logbook_verify(crisis, check_files=False),
    })


def _due(minutes: int | None) -> Any:
    import datetime

    return timezone.now() + datetime.timedelta(minutes=minutes) if minutes else None


@login_required
@require_http_methods(["GET", "POST"])
def responder_routes(request: HttpRequest) -> HttpResponse:
    """Which on-call rotation answers help requests for each group and region the user
    acts for, and after how long an unanswered request escalates."""
    from planblanc.alerting.models import OnCallRotation

    sides = [(value, label) for value, label in _owners(request.user) if not value.startswith("establishment:")]
    if not sides:
        raise Http404
    if request.method == "POST":
        level, owner = _owner_from(request.POST.get("owner", ""), request.user)
        region = owner if level == "region" else owner.region
        rotations = OnCallRotation.objects.visible_to(request.user).filter(establishment__region=region)
        form = ResponderRouteForm(request.POST, rotations=rotations, prefix=_route_prefix(request.POST["owner"]))
        if form.is_valid() and run_service(form, lambda: services.responder_route_save(
                actor=request.user, region=region, group=owner if level == "group" else None,
                rotation=form.cleaned_data["rotation"],
                answer_within_minutes=form.cleaned_data["answer_within_minutes"])):
            messages.success(request, _("On-call route saved."))
            return redirect("mutual_aid:responder_routes")
        failed = (request.POST.get("owner"), form)
    else:
        failed = None
    rows = []
    for value, label in sides:
        level, owner = _owner_from(value, request.user)
        region = owner if level == "region" else owner.region
        route = ResponderRoute.objects.filter(region=region, group=owner if level == "group" else None).first()
        rotations = OnCallRotation.objects.visible_to(request.user).filter(establishment__region=region)
        form = failed[1] if failed and failed[0] == value else ResponderRouteForm(
            rotations=rotations, initial={"rotation": route.rotation_id if route else None,
                                          "answer_within_minutes": route.answer_within_minutes if route else 30},
            prefix=_route_prefix(value))
        rows.append((value, label, form))
    return render(request, "mutual_aid/routes.html", {"rows": rows})


def _route_prefix(value: str) -> str:
    return value.replace(":", "-")
