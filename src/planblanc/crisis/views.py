"""Crisis console pages, thin over services and selectors.

Phone first: the cell works from personal phones when the workstations are encrypted.
Every write is a plain POST form that comes back to the console (works without
JavaScript); the console's panels refresh live by polling `live/?rev=N` every 2 seconds,
which answers 204 with no body while nothing changed (one small query)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from planblanc import rights
from planblanc.core.forms import run_service
from planblanc.crisis import exports, selectors, services
from planblanc.crisis.chain import logbook_verify
from planblanc.crisis.forms import (
    CloseForm,
    DamageForm,
    DecisionForm,
    DeclareForm,
    DepartmentStatusForm,
    EntryForm,
    SystemAddForm,
    SystemStatusForm,
    TaskForm,
    TaskStatusForm,
)
from planblanc.crisis.models import (
    DAMAGE_QUESTIONS,
    Crisis,
    CrisisTask,
    DepartmentState,
    DepartmentStatus,
    LogbookAttachment,
    LogbookEntry,
    SystemState,
    SystemStatus,
    TaskStatus,
)
from planblanc.crisis.notifications import notification_summaries
from planblanc.directory.models import Establishment, Membership
from planblanc.tenancy import Perm


def _declarable(user: Any) -> list[Establishment]:
    """Establishments where this login may declare (director or deputy there)."""
    ids = Membership.objects.filter(person__user=user, function__in=rights.APPROVER_FUNCTIONS).values("establishment_id")
    return [e for e in Establishment.objects.visible_to(user).filter(pk__in=ids)
            if rights.may_declare_crisis(user, e)]


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """Active crises in the user's scope (the regional view for an ARS officer, all of
    them for the national level), and the establishments whose crisis page they run."""
    mine = {e.pk: e for e in Establishment.objects.visible_to(request.user, Perm.RUN_CRISIS)[:50]}
    for establishment in _declarable(request.user):
        mine.setdefault(establishment.pk, establishment)
    active = list(selectors.crisis_list_for_user(user=request.user, active=True)[:200])
    summaries = notification_summaries(crises=active)
    for crisis in active:
        crisis.notification_summary = summaries[crisis.pk]
    return render(request, "crisis/index.html", {
        "active": active,
        "establishments": sorted(mine.values(), key=lambda e: e.name),
        "stats": selectors.crisis_statistics(user=request.user),
    })


@login_required
@require_http_methods(["GET", "POST"])
def establishment_home(request: HttpRequest, establishment_id: int) -> HttpResponse:
    """An establishment's crisis page: the declare form for its director or deputy, the
    active crisis, and the history of past crises."""
    establishment = selectors.establishment_for_user(user=request.user, establishment_id=establishment_id)
    may_declare = rights.may_declare_crisis(request.user, establishment)
    form = DeclareForm(request.POST or None)
    if request.method == "POST":
        if not may_declare:
            messages.error(request, _("Only the director of the establishment or a deputy director may declare a crisis."))
            return redirect("crisis:establishment", establishment_id=establishment.pk)
        if form.is_valid():
            data = form.cleaned_data
            crisis = run_service(form, lambda: services.crisis_declare(
                actor=request.user, establishment=establishment, kind=data["kind"], severity=data["severity"],
                first_facts=data["first_facts"], is_exercise=data["is_exercise"],
                confirm_second=data["confirm_second"],
            ))
            if crisis is not None:
                messages.success(request, _("Crisis declared. The crisis cell is being alerted."))
                return redirect("crisis:console", crisis_id=crisis.pk)
    crises = list(selectors.crises_of_establishment(establishment=establishment))
    return render(request, "crisis/establishment.html", {
        "establishment": establishment, "form": form, "may_declare": may_declare,
        "active": [c for c in crises if c.is_active], "past": [c for c in crises if not c.is_active],
    })


def _console_context(request: HttpRequest, crisis: Crisis, since_seq: int = 0) -> dict[str, Any]:
    console = selectors.crisis_console(crisis=crisis, since_seq=since_seq)
    may_run = rights.may_run_crisis(request.user, crisis) and crisis.is_active
    return {
        "crisis": crisis, "console": console, "may_run": may_run,
        "department_states": DepartmentState.choices, "system_states": SystemState.choices,
        "task_statuses": TaskStatus.choices,
        "damage_rows": [
            (label, getattr(console.damage, name, ""), kind,
             getattr(console.damage, f"get_{name}_display", lambda: "")() if kind == "answer" else "")
            for name, (label, kind) in DAMAGE_QUESTIONS.items()
        ] if console.damage else [],
    }


@login_required
def console(request: HttpRequest, crisis_id: int) -> HttpResponse:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    context = _console_context(request, crisis)
    damage = context["console"].damage
    context.update({
        "entry_form": EntryForm(), "decision_form": DecisionForm(prefix="decision"), "task_form": TaskForm(prefix="task"),
        "system_add_form": SystemAddForm(prefix="system"),
        "damage_form": DamageForm(
            prefix="damage", initial={name: getattr(damage, name) for name in DAMAGE_QUESTIONS} if damage else None,
        ),
    })
    return render(request, "crisis/console.html", context)


@login_required
@require_GET
def live(request: HttpRequest, crisis_id: int) -> HttpResponse:
    """The console's panels when something changed since revision `rev`, with only the
    logbook entries after number `seq`; 204 otherwise. Also answers If-None-Match with
    304 (the ETag is the revision)."""
    revision = selectors.crisis_revision(user=request.user, crisis_id=crisis_id)
    if revision is None:
        raise Http404
    etag = f'"crisis-{crisis_id}-{revision}"'
    if request.headers.get("If-None-Match") == etag:
        return HttpResponse(status=304, headers={"ETag": etag})
    if request.GET.get("rev") == str(revision):
        return HttpResponse(status=204, headers={"ETag": etag})
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    try:
        # The entries the page already shows are not sent again: only the newer ones.
        since_seq = max(0, int(request.GET.get("seq", "0")))
    except ValueError:
        since_seq = 0
    since_seq = since_seq if since_seq <= crisis.head_seq else 0
    response = render(request, "crisis/_live.html", {
        **_console_context(request, crisis, since_seq=since_seq), "oob": True, "since_seq": since_seq,
    })
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response


def _write(request: HttpRequest, crisis_id: int, call: Callable[[Crisis], Any], done: str = "") -> HttpResponse:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    try:
        call(crisis)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        if done:
            messages.success(request, done)
    return redirect("crisis:console", crisis_id=crisis.pk)


def _form_errors(request: HttpRequest, form: Any) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)


@login_required
@require_POST
def entry_add(request: HttpRequest, crisis_id: int) -> HttpResponse:
    form = EntryForm(request.POST, request.FILES)

    def call(crisis: Crisis) -> Any:
        if not form.is_valid():
            _form_errors(request, form)
            return None
        data = form.cleaned_data
        corrects = None
        if data["corrects"]:
            corrects = LogbookEntry.objects.filter(crisis=crisis, seq=data["corrects"]).first()
            if corrects is None:
                raise ValidationError(_("There is no entry number %(seq)d.") % {"seq": data["corrects"]})
        upload = data.get("attachment")
        attachments = [services.AttachmentInput(name=upload.name, content=upload.read(),
                                                content_type=upload.content_type or "")] if upload else []
        return services.logbook_append(actor=request.user, crisis=crisis, kind=data["kind"], text=data["text"],
                                       corrects=corrects, attachments=attachments)

    return _write(request, crisis_id, call)


@login_required
@require_POST
def decision_add(request: HttpRequest, crisis_id: int) -> HttpResponse:
    form = DecisionForm(request.POST, prefix="decision")

    def call(crisis: Crisis) -> Any:
        if not form.is_valid():
            _form_errors(request, form)
            return None
        data = form.cleaned_data
        return services.decision_record(actor=request.user, crisis=crisis, text=data["text"],
                                        rationale=data["rationale"], decided_by=data["decided_by"])

    return _write(request, crisis_id, call)


@login_required
@require_POST
def task_add(request: HttpRequest, crisis_id: int) -> HttpResponse:
    import datetime

    from django.utils import timezone

    form = TaskForm(request.POST, prefix="task")

    def call(crisis: Crisis) -> Any:
        if not form.is_valid():
            _form_errors(request, form)
            return None
        data = form.cleaned_data
        minutes = data["due_in_minutes"]
        due = timezone.now() + datetime.timedelta(minutes=minutes) if minutes is not None else None
        return services.task_create(actor=request.user, crisis=crisis, title=data["title"],
                                    owner_label=data["owner_label"], due_at=due)

    return _write(request, crisis_id, call)


@login_required
@require_POST
def task_status(request: HttpRequest, crisis_id: int, task_id: int) -> HttpResponse:
    form = TaskStatusForm(request.POST)

    def call(crisis: Crisis) -> Any:
        task = get_object_or_404(CrisisTask.objects.select_related("crisis__establishment"), pk=task_id, crisis=crisis)
        if not form.is_valid():
            raise ValidationError(_("Unknown task status."))
        return services.task_set_status(actor=request.user, task=task, status=form.cleaned_data["status"])

    return _write(request, crisis_id, call)


@login_required
@require_POST
def department_status(request: HttpRequest, crisis_id: int, row_id: int) -> HttpResponse:
    form = DepartmentStatusForm(request.POST)

    def call(crisis: Crisis) -> Any:
        row = get_object_or_404(DepartmentStatus.objects.select_related("crisis__establishment"), pk=row_id,
                                crisis=crisis)
        if not form.is_valid():
            _form_errors(request, form)
            return None
        return services.department_status_change(actor=request.user, row=row, **form.cleaned_data)

    return _write(request, crisis_id, call)


@login_required
@require_POST
def system_status(request: HttpRequest, crisis_id: int, row_id: int) -> HttpResponse:
    form = SystemStatusForm(request.POST)

    def call(crisis: Crisis) -> Any:
        row = get_object_or_404(SystemStatus.objects.select_related("crisis__establishment"), pk=row_id,
                                crisis=crisis)
        if not form.is_valid():
            _form_errors(request, form)
            return None
        return services.system_status_change(actor=request.user, row=row, **form.cleaned_data)

    return _write(request, crisis_id, call)


@login_required
@require_POST
def system_add(request: HttpRequest, crisis_id: int) -> HttpResponse:
    form = SystemAddForm(request.POST, prefix="system")

    def call(crisis: Crisis) -> Any:
        if not form.is_valid():
            _form_errors(request, form)
            return None
        return services.system_status_add(actor=request.user, crisis=crisis, name=form.cleaned_data["name"])

    return _write(request, crisis_id, call)


@login_required
@require_POST
def damage(request: HttpRequest, crisis_id: int) -> HttpResponse:
    form = DamageForm(request.POST, prefix="damage")

    def call(crisis: Crisis) -> Any:
        if not form.is_valid():
            _form_errors(request, form)
            return None
        return services.damage_assessment_update(actor=request.user, crisis=crisis, data=form.cleaned_data)

    return _write(request, crisis_id, call)


@login_required
@require_http_methods(["GET", "POST"])
def close(request: HttpRequest, crisis_id: int) -> HttpResponse:
    """End of crisis: a closing entry, then the logbook is closed."""
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    if not rights.may_run_crisis(request.user, crisis):
        raise Http404
    form = CloseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        done = run_service(form, lambda: services.crisis_close(
            actor=request.user, crisis=crisis, summary=form.cleaned_data["summary"]))
        if done is not None:
            messages.success(request, _("The crisis has ended. The logbook is closed."))
            return redirect("crisis:console", crisis_id=crisis.pk)
    return render(request, "crisis/close.html", {"crisis": crisis, "form": form})


@login_required
def verify(request: HttpRequest, crisis_id: int) -> HttpResponse:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    result = logbook_verify(crisis)
    return render(request, "crisis/verify.html", {"crisis": crisis, "result": result},
                  status=200 if result.ok else 409)


@login_required
def export(request: HttpRequest, crisis_id: int, fmt: str) -> HttpResponse:
    """The logbook as PDF, CSV or JSON, with its head hash; each export is audited."""
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    exported = exports.logbook_export(actor=request.user, crisis=crisis, fmt=fmt)
    response = HttpResponse(exported.content, content_type=exported.content_type)
    response["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Logbook-Head"] = crisis.head_hash
    return response


@login_required
def attachment(request: HttpRequest, crisis_id: int, attachment_id: int) -> FileResponse:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    item = get_object_or_404(LogbookAttachment, pk=attachment_id, entry__crisis=crisis)
    path = Path(settings.DATA_DIR) / item.path
    if not path.is_file():
        raise Http404
    response = FileResponse(path.open("rb"), as_attachment=True, filename=item.name,
                            content_type="application/octet-stream")
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def cell_board(request: HttpRequest, crisis_id: int) -> HttpResponse:
    """The crisis cell board: a page of its own, and its partial (HTMX or ?partial=1)
    for the console's "alert and cell" section, refreshed every few seconds."""
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    board = selectors.crisis_cell_board(crisis=crisis)
    partial = request.headers.get("HX-Request") == "true" or request.GET.get("partial") == "1"
    template = "crisis/_cell_board.html" if partial else "crisis/cell_board.html"
    return render(request, template, {"crisis": crisis, "board": board})
