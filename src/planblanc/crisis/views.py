"""Crisis console pages, thin over services and selectors.

Phone first: the cell works from personal phones when the workstations are encrypted.
Every write is a plain POST form that comes back to the console (works without
JavaScript); the console's panels refresh live by polling `live/?rev=N` every 2 seconds,
which answers 204 with no body while nothing changed (one small query)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
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
    DamageAssessment,
    Decision,
    DepartmentState,
    DepartmentStatus,
    LogbookAttachment,
    LogbookEntry,
    StatusChange,
    SystemState,
    SystemStatus,
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
    crises = list(selectors.crises_of_establishment(establishment=establishment))
    active = [c for c in crises if c.is_active]
    form = DeclareForm(request.POST or None, second=bool(active))
    if request.method == "POST":
        if not may_declare:
            messages.error(request, _("Only the director of the establishment or a deputy director may declare a crisis."))
            return redirect("crisis:establishment", establishment_id=establishment.pk)
        if form.is_valid():
            data = form.cleaned_data
            crisis = run_service(form, lambda: services.crisis_declare(
                actor=request.user, establishment=establishment, kind=data["kind"], severity=data["severity"],
                first_facts=data["first_facts"], is_exercise=data["is_exercise"],
                confirm_second=data.get("confirm_second", False),
            ))
            if crisis is not None:
                messages.success(request, _("Crisis declared. The crisis cell is being alerted."))
                return redirect("crisis:console", crisis_id=crisis.pk)
    return render(request, "crisis/establishment.html", {
        "establishment": establishment, "form": form, "may_declare": may_declare,
        "active": active, "past": [c for c in crises if not c.is_active],
    })


# The console ------------------------------------------------------------------------------
# One short page per section, reached in one tap from the console's menu. Each section's
# list refreshes by polling `live/?section=…&v=<stamp>`: 204 while its stamp is unchanged,
# else only that section's list (the logbook: only the new entries). Forms sit outside
# the refreshed lists, so typed text is never replaced. Every write answers an HTMX
# request with only the changed part and a confirmation; without JavaScript it is a plain
# POST that comes back to the section.

SECTIONS: dict[str, tuple[str, Any]] = {
    "journal": ("logbook", gettext_lazy("Logbook")),
    "mes-taches": ("mytasks", gettext_lazy("My tasks")),
    "taches": ("tasks", gettext_lazy("All tasks")),
    "tableau": ("board", gettext_lazy("Status board")),
    "decisions": ("decisions", gettext_lazy("Decisions")),
    "bilan": ("damage", gettext_lazy("Damage assessment")),
    "alerte": ("alert", gettext_lazy("Alert and cell")),
    "echeances": ("notifications", gettext_lazy("Notifications")),
}
LOGBOOK_SHOWN = 50  # the latest entries on a phone; the PDF and CSV hold them all
SLUG_OF = {name: slug for slug, (name, _label) in SECTIONS.items()}


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _task_filter(request: HttpRequest) -> str:
    which = request.GET.get("filtre", "open")
    return which if which in selectors.TASK_FILTERS else "open"


def _forms(crisis: Crisis, damage: Any = None) -> dict[str, Any]:
    return {
        "entry_form": EntryForm(), "decision_form": DecisionForm(prefix="decision"),
        "task_form": TaskForm(prefix="task"), "system_add_form": SystemAddForm(prefix="system"),
        "damage_form": DamageForm(
            prefix="damage", initial={name: getattr(damage, name) for name in DAMAGE_QUESTIONS} if damage else None,
        ),
    }


def _damage_rows(damage: Any) -> list[tuple[Any, ...]]:
    if damage is None:
        return []
    return [
        (label, getattr(damage, name, ""), kind,
         getattr(damage, f"get_{name}_display", lambda: "")() if kind == "answer" else "")
        for name, (label, kind) in DAMAGE_QUESTIONS.items()
    ]


def _section_data(request: HttpRequest, crisis: Crisis, name: str) -> dict[str, Any]:
    """What one section's list shows, and its stamp for the poller."""
    data: dict[str, Any] = {"section": name, "slug": SLUG_OF[name]}
    if name == "logbook":
        data["entries"] = list(selectors.logbook_entries(crisis=crisis).order_by("-seq")[:LOGBOOK_SHOWN])
        data["stamp"] = crisis.head_seq
    elif name in ("tasks", "mytasks"):
        which = _task_filter(request)
        data.update(tasks=selectors.crisis_tasks(crisis=crisis, user=request.user, mine=name == "mytasks",
                                                 which=which), which=which, stamp=crisis.tasks_rev)
    elif name == "board":
        data.update(departments=list(DepartmentStatus.objects.filter(crisis=crisis)),
                    systems=list(SystemStatus.objects.filter(crisis=crisis)),
                    history=list(StatusChange.objects.filter(crisis=crisis)[:50]), stamp=crisis.board_rev)
    elif name == "decisions":
        data.update(decisions=list(Decision.objects.filter(crisis=crisis).select_related("logbook_entry")),
                    stamp=crisis.decisions_rev)
    elif name == "damage":
        damage = DamageAssessment.objects.filter(crisis=crisis).first()
        data.update(damage=damage, damage_rows=_damage_rows(damage), stamp=crisis.damage_rev)
    elif name == "notifications":
        data.update(notifications=notification_summaries(crises=[crisis])[crisis.pk], stamp=crisis.status)
    elif name == "alert":
        data["stamp"] = crisis.status
    return data


def _base_context(request: HttpRequest, crisis: Crisis) -> dict[str, Any]:
    return {
        "crisis": crisis,
        "may_run": rights.may_run_crisis(request.user, crisis) and crisis.is_active,
        "may_end": crisis.is_active and rights.may_end_crisis(request.user, crisis),
        "department_states": DepartmentState.choices, "system_states": SystemState.choices,
        "task_actions": [("doing", _("Start")), ("done", _("Done")), ("cancelled", _("Cancel"))],
        "task_filter_choices": [("open", _("Open")), ("overdue", _("Overdue")), ("all", _("All"))],
    }


def _render_section(request: HttpRequest, crisis: Crisis, name: str, forms: dict[str, Any] | None = None,
                    status: int = 200) -> HttpResponse:
    context = _base_context(request, crisis)
    context.update(_section_data(request, crisis, name))
    context.update(_forms(crisis, context.get("damage")))
    context.update(forms or {})
    context["sections"] = [(slug, label, n == name) for slug, (n, label) in SECTIONS.items()]
    context["counts"] = selectors.crisis_task_counts(crisis=crisis, user=request.user)
    if _is_htmx(request) and request.headers.get("HX-Target") == "console-body":
        return render(request, "crisis/_section.html", context, status=status)
    return render(request, "crisis/console.html", context, status=status)


@login_required
def console(request: HttpRequest, crisis_id: int) -> HttpResponse:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    return _render_section(request, crisis, "logbook")


@login_required
@require_GET
def section(request: HttpRequest, crisis_id: int, slug: str) -> HttpResponse:
    if slug not in SECTIONS:
        raise Http404
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    return _render_section(request, crisis, SECTIONS[slug][0])


@login_required
@require_GET
def live(request: HttpRequest, crisis_id: int) -> HttpResponse:
    """A section's list when its stamp moved past `v`, 204 otherwise (one small query).
    The logbook sends only the entries after `v`. Also answers If-None-Match with 304."""
    name = request.GET.get("section", "logbook")
    if name not in selectors.SECTION_STAMPS:
        raise Http404
    found = selectors.crisis_section_stamp(user=request.user, crisis_id=crisis_id, section=name)
    if found is None:
        raise Http404
    stamp, active = found
    if request.GET.get("a") == "1" and not active:
        # The crisis ended while the page was open: reload it (the forms go away).
        return HttpResponse(status=200, headers={"HX-Refresh": "true"})
    etag = f'"crisis-{crisis_id}-{name}-{stamp}"'
    if request.headers.get("If-None-Match") == etag:
        return HttpResponse(status=304, headers={"ETag": etag})
    if request.GET.get("v") == str(stamp):
        return HttpResponse(status=204, headers={"ETag": etag})
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    context = _base_context(request, crisis)
    context["oob"] = True
    if name == "logbook":
        try:
            since = max(0, int(request.GET.get("v", "0")))
        except ValueError:
            since = 0
        since = since if since <= crisis.head_seq else 0
        context.update(section=name, slug=SLUG_OF[name], stamp=crisis.head_seq, since=since,
                       entries=list(selectors.logbook_entries(crisis=crisis, since_seq=since).order_by("-seq")[:LOGBOOK_SHOWN]))
    else:
        context.update(_section_data(request, crisis, name))
    response = render(request, "crisis/_live.html", context)
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response


def _back(request: HttpRequest, crisis: Crisis) -> HttpResponse:
    slug = request.POST.get("next", "")
    if slug in SECTIONS:
        return redirect("crisis:section", crisis_id=crisis.pk, slug=slug)
    return redirect("crisis:console", crisis_id=crisis.pk)


def _toast(request: HttpRequest, text: str, level: str = "success") -> str:
    return render_to_string("crisis/_toast.html", {"text": text, "level": level}, request=request)


def _form_action(
    request: HttpRequest, crisis_id: int, *, form: Any, key: str, section_name: str,
    call: Callable[[Crisis, dict[str, Any]], Any], done: str,
) -> HttpResponse:
    """A console form: on success, a fresh form and a confirmation (the section's list
    refreshes at once); on error, the same form with the typed text and each message
    beside its field. Without JavaScript: the section page."""
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    if not rights.may_run_crisis(request.user, crisis):
        raise PermissionDenied(_("You are not allowed to write in this crisis."))
    result = None
    if form.is_valid():
        try:
            result = run_service(form, lambda: call(crisis, form.cleaned_data))
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
    ok = result is not None and not form.errors
    crisis.refresh_from_db()
    if not _is_htmx(request):
        if ok:
            messages.success(request, done)
            return _back(request, crisis)
        return _render_section(request, crisis, section_name, forms={key: form}, status=422)
    fresh = _forms(crisis, DamageAssessment.objects.filter(crisis=crisis).first() if key == "damage_form" else None)
    context = {**_base_context(request, crisis), "form": fresh[key] if ok else form,
               "slug": SLUG_OF[section_name], "form_key": key}
    # HTMX swaps 2xx answers only: the form with its errors comes back 200 (422 without JS).
    response = render(request, f"crisis/forms/{key}.html", context)
    if ok:
        response.content += _toast(request, done).encode()
        response["HX-Trigger"] = "pb-refresh"
    return response


@login_required
@require_POST
def entry_add(request: HttpRequest, crisis_id: int) -> HttpResponse:
    form = EntryForm(request.POST, request.FILES)

    def call(crisis: Crisis, data: dict[str, Any]) -> Any:
        corrects = None
        if data["corrects"]:
            corrects = LogbookEntry.objects.filter(crisis=crisis, seq=data["corrects"]).first()
            if corrects is None:
                raise ValidationError({"corrects": [
                    _("There is no entry number %(seq)d.") % {"seq": data["corrects"]}]})
        upload = data.get("attachment")
        attachments = [services.AttachmentInput(name=upload.name, content=upload.read(),
                                                content_type=upload.content_type or "")] if upload else []
        return services.logbook_append(actor=request.user, crisis=crisis, kind=data["kind"], text=data["text"],
                                       corrects=corrects, attachments=attachments)

    return _form_action(request, crisis_id, form=form, key="entry_form", section_name="logbook", call=call,
                        done=_("Entry added to the logbook."))


@login_required
@require_POST
def decision_add(request: HttpRequest, crisis_id: int) -> HttpResponse:
    form = DecisionForm(request.POST, prefix="decision")

    def call(crisis: Crisis, data: dict[str, Any]) -> Any:
        return services.decision_record(actor=request.user, crisis=crisis, text=data["text"],
                                        rationale=data["rationale"], decided_by=data["decided_by"])

    return _form_action(request, crisis_id, form=form, key="decision_form", section_name="decisions", call=call,
                        done=_("Decision recorded in the logbook."))


@login_required
@require_POST
def task_add(request: HttpRequest, crisis_id: int) -> HttpResponse:
    form = TaskForm(request.POST, prefix="task")

    def call(crisis: Crisis, data: dict[str, Any]) -> Any:
        minutes = data["due_in_minutes"]
        due = timezone.now() + datetime.timedelta(minutes=minutes) if minutes is not None else None
        return services.task_create(actor=request.user, crisis=crisis, title=data["title"],
                                    owner_label=data["owner_label"], due_at=due)

    return _form_action(request, crisis_id, form=form, key="task_form", section_name="tasks", call=call,
                        done=_("Task added."))


@login_required
@require_POST
def system_add(request: HttpRequest, crisis_id: int) -> HttpResponse:
    form = SystemAddForm(request.POST, prefix="system")

    def call(crisis: Crisis, data: dict[str, Any]) -> Any:
        return services.system_status_add(actor=request.user, crisis=crisis, name=data["name"])

    return _form_action(request, crisis_id, form=form, key="system_add_form", section_name="board", call=call,
                        done=_("IT system added to the board."))


@login_required
@require_POST
def damage(request: HttpRequest, crisis_id: int) -> HttpResponse:
    form = DamageForm(request.POST, prefix="damage")

    def call(crisis: Crisis, data: dict[str, Any]) -> Any:
        return services.damage_assessment_update(actor=request.user, crisis=crisis, data=data)

    return _form_action(request, crisis_id, form=form, key="damage_form", section_name="damage", call=call,
                        done=_("Damage assessment saved."))


def _item_action(
    request: HttpRequest, crisis: Crisis, *, call: Callable[[], Any], template: str, context: Callable[[], dict],
    done: str,
) -> HttpResponse:
    """A one-tap change of a task or a status card: the card comes back changed, with a
    confirmation; an error shows on the card itself."""
    error = ""
    try:
        call()
    except ValidationError as exc:
        error = " ".join(exc.messages)
    except PermissionDenied as exc:
        error = str(exc)
    if not _is_htmx(request):
        if error:
            messages.error(request, error)
        else:
            messages.success(request, done)
        return _back(request, crisis)
    crisis.refresh_from_db()
    response = render(request, template, {**_base_context(request, crisis), **context(), "error": error})
    if not error:
        response.content += _toast(request, done).encode()
    return response


@login_required
@require_POST
def task_status(request: HttpRequest, crisis_id: int, task_id: int) -> HttpResponse:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    task = get_object_or_404(CrisisTask.objects.select_related("crisis__establishment"), pk=task_id, crisis=crisis)
    form = TaskStatusForm(request.POST)

    def call() -> Any:
        if not form.is_valid():
            raise ValidationError(_("Unknown task status."))
        return services.task_set_status(actor=request.user, task=task, status=form.cleaned_data["status"])

    def context() -> dict[str, Any]:
        task.refresh_from_db()
        task.overdue = task.is_overdue()  # type: ignore[attr-defined]
        return {"task": task, "slug": request.POST.get("next", "taches")}

    labels = {"done": _("Task done."), "doing": _("Task started."), "cancelled": _("Task cancelled."),
              "todo": _("Task reopened.")}
    return _item_action(request, crisis, call=call, template="crisis/_task.html", context=context,
                        done=labels.get(request.POST.get("status", ""), _("Task updated.")))


def _status_action(request: HttpRequest, crisis_id: int, row_id: int, model: Any, form_class: Any,
                   change: Callable[..., Any], kind: str) -> HttpResponse:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    row = get_object_or_404(model.objects.select_related("crisis__establishment"), pk=row_id, crisis=crisis)
    form = form_class(request.POST)

    def call() -> Any:
        if not form.is_valid():
            raise ValidationError(_("Unknown status."))
        return change(actor=request.user, row=row, **form.cleaned_data)

    def context() -> dict[str, Any]:
        row.refresh_from_db()
        return {"row": row, "kind": kind}

    return _item_action(request, crisis, call=call, template="crisis/_status_card.html", context=context,
                        done=_("%(name)s: status changed.") % {"name": row.name})


@login_required
@require_POST
def department_status(request: HttpRequest, crisis_id: int, row_id: int) -> HttpResponse:
    return _status_action(request, crisis_id, row_id, DepartmentStatus, DepartmentStatusForm,
                          services.department_status_change, "department")


@login_required
@require_POST
def system_status(request: HttpRequest, crisis_id: int, row_id: int) -> HttpResponse:
    return _status_action(request, crisis_id, row_id, SystemStatus, SystemStatusForm,
                          services.system_status_change, "system")


@login_required
@require_http_methods(["GET", "POST"])
def close(request: HttpRequest, crisis_id: int) -> HttpResponse:
    """End of crisis, after a confirmation page that says what it does: a closing entry,
    then the logbook is closed for good. Only the director or a deputy director."""
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    may_end = rights.may_end_crisis(request.user, crisis)
    form = CloseForm(request.POST or None)
    if request.method == "POST" and may_end and form.is_valid():
        done = run_service(form, lambda: services.crisis_close(
            actor=request.user, crisis=crisis, summary=form.cleaned_data["summary"]))
        if done is not None:
            messages.success(request, _("The crisis has ended. The logbook is closed."))
            return redirect("crisis:console", crisis_id=crisis.pk)
    status = 200 if may_end or not crisis.is_active else 403
    if request.method == "POST" and may_end and form.errors:
        status = 422
    return render(request, "crisis/close.html", {"crisis": crisis, "form": form, "may_end": may_end},
                  status=status)


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
    return render(request, template, {
        "crisis": crisis, "board": board, "hide_rendezvous": request.GET.get("bare") == "1",
    })
