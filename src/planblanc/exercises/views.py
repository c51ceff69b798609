"""Exercise pages: kit library and questionnaire, exercise list, scenario editor,
participants and planning, chronogramme import (upload → preview and mapping → save) and
export. Thin: rules live in exercises.services, selectors and chronogramme.

Tenancy: exercises are read through selectors.exercise_get_for_user (404 outside scope);
writing needs Perm.RUN_EXERCISE (403 for read-only roles, whose pages show no forms)."""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from planblanc import rights
from planblanc.core import staging
from planblanc.core.forms import run_service
from planblanc.core.tabular import max_upload_bytes
from planblanc.directory.models import Establishment
from planblanc.exercises import attachments, invitations, selectors, services
from planblanc.exercises import chronogramme as chrono
from planblanc.exercises.forms import (
    ExerciseForm,
    ExerciseFromKitForm,
    ImportUploadForm,
    InjectForm,
    MappingForm,
    ParticipantForm,
    QuestionnaireForm,
    ReactionForm,
    ScheduleForm,
)
from planblanc.exercises.invitations import exercise_invitation_ics
from planblanc.exercises.kits import kits
from planblanc.exercises.models import Exercise, ExpectedReaction, Participant
from planblanc.exercises.views_run import attachment_response
from planblanc.tenancy import Perm, get_for_user, has_perm_somewhere


def _exercise(request: HttpRequest, pk: int, *, write: bool = False) -> Exercise:
    exercise = selectors.exercise_get_for_user(user=request.user, pk=pk)
    if write and not rights.may_edit_exercise(request.user, exercise):
        raise PermissionDenied(_("You are not allowed to prepare exercises for this establishment."))
    return exercise


# Kit library ---------------------------------------------------------------------------


@login_required
def kit_library(request: HttpRequest) -> HttpResponse:
    form = QuestionnaireForm(request.POST or None)
    recommendation = None
    if request.method == "POST" and form.is_valid():
        recommendation = selectors.questionnaire_recommend(
            answers={k: v for k, v in form.cleaned_data.items() if v}
        )
    context = {
        "kits": list(kits().values()),
        "form": form,
        "recommendation": recommendation,
        "may_create": has_perm_somewhere(request.user, Perm.RUN_EXERCISE),
    }
    if request.headers.get("HX-Request") and recommendation is not None:
        return render(request, "exercises/_recommendation.html", context)
    return render(request, "exercises/kit_library.html", context)


# List and creation ---------------------------------------------------------------------


@login_required
def exercise_list(request: HttpRequest) -> HttpResponse:
    establishment = None
    if request.GET.get("establishment"):
        establishment = get_for_user(request.user, Establishment, pk=request.GET["establishment"])
    year = timezone.localdate().year
    return render(request, "exercises/exercise_list.html", {
        "exercises": selectors.exercise_list(user=request.user, establishment=establishment),
        "establishment": establishment,
        "year": year,
        "obligation": selectors.yearly_obligation(user=request.user, year=year).order_by("name")[:200],
        "may_create": has_perm_somewhere(request.user, Perm.RUN_EXERCISE),
    })


@login_required
def exercise_create(request: HttpRequest) -> HttpResponse:
    if not has_perm_somewhere(request.user, Perm.RUN_EXERCISE):
        raise PermissionDenied(_("You are not allowed to prepare exercises."))
    form = ExerciseFromKitForm(request.POST or None, user=request.user,
                               initial={"kit": request.GET.get("kit", "")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if data["kit"]:
            exercise = run_service(form, lambda: services.exercise_create_from_kit(
                actor=request.user, establishment=data["establishment"], kit_slug=data["kit"],
                title=data["title"], start=data["planned_start"],
            ))
        else:
            exercise = run_service(form, lambda: services.exercise_create(
                actor=request.user, establishment=data["establishment"],
                title=data["title"] or _("New exercise"), planned_start=data["planned_start"],
            ))
        if exercise is not None:
            messages.success(request, _("Exercise created: adapt its scenario, then plan it."))
            return redirect("exercises:detail", exercise.pk)
    return render(request, "exercises/exercise_create.html", {"form": form})


# Editor --------------------------------------------------------------------------------


def _editor_context(request: HttpRequest, exercise: Exercise) -> dict[str, Any]:
    may_edit = rights.may_edit_exercise(request.user, exercise)
    sort = request.GET.get("sort", "time")
    injects = selectors.injects_in_order(exercise=exercise)
    if sort == "number":
        injects.sort(key=lambda i: i.number)
    start = exercise.planned_start
    rows = []
    for inject in injects:
        due = inject.due_offset(start)
        rows.append({
            "inject": inject,
            "offset_label": _format_offset(due),
            "clock": timezone.localtime(start + due).strftime("%H:%M") if start and due is not None else "",
        })
    if sort == "time":
        rows = _with_markers(rows, list(exercise.markers.all()), start)
    return {
        "exercise": exercise,
        "establishment": exercise.establishment,
        "may_edit": may_edit,
        "scenario_editable": may_edit and exercise.status in services.EDITABLE_STATUSES,
        "rows": rows,
        "sort": sort,
        "participants": exercise.participants.select_related("person"),
        "criteria": exercise.criteria.all(),
        "participant_form": ParticipantForm(exercise=exercise) if may_edit else None,
        "schedule_form": ScheduleForm(initial={
            "planned_start": timezone.localtime(start) if start else None,
            "duration_minutes": int(exercise.planned_duration.total_seconds() // 60) if exercise.planned_duration else None,
            "location": exercise.location,
        }) if may_edit else None,
    }


def _with_markers(rows: list[dict[str, Any]], markers: list[Any], start: datetime.datetime | None,
                  ) -> list[dict[str, Any]]:
    """Markers (DEBEX, pauses, FINEX) between the injects, at their time; an end marker
    after the injects of the same time, the others before."""
    far = datetime.timedelta(days=3650)
    merged: list[tuple[datetime.timedelta, int, int, dict[str, Any]]] = []
    for index, row in enumerate(rows):
        due = row["inject"].due_offset(start)
        merged.append((due if due is not None else far, 1, index, row))
    for index, marker in enumerate(markers):
        merged.append((marker.offset if marker.offset is not None else far, 2 if marker.kind == "end" else 0, index, {
            "marker": marker, "offset_label": _format_offset(marker.offset),
            "clock": timezone.localtime(start + marker.offset).strftime("%H:%M")
            if start and marker.offset is not None else "",
        }))
    return [row for *_key, row in sorted(merged, key=lambda item: item[:3])]


def _format_offset(due: datetime.timedelta | None) -> str:
    if due is None:
        return "—"
    sign = "-" if due < datetime.timedelta(0) else "+"
    minutes = abs(int(due.total_seconds())) // 60
    return f"T{sign}{minutes // 60}:{minutes % 60:02d}"


@login_required
def exercise_detail(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    return render(request, "exercises/exercise_detail.html", _editor_context(request, exercise))


@login_required
def exercise_edit(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk, write=True)
    form = ExerciseForm(request.POST or None, instance=Exercise.objects.get(pk=exercise.pk))
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in form.Meta.fields}
        if run_service(form, lambda: services.exercise_update(actor=request.user, exercise=exercise, data=data)):
            messages.success(request, _("Exercise saved."))
            return redirect("exercises:detail", exercise.pk)
    return render(request, "exercises/exercise_edit.html", {"exercise": exercise, "form": form})


@login_required
@require_POST
def exercise_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk, write=True)
    form = ScheduleForm(request.POST)
    if form.is_valid():
        minutes = form.cleaned_data["duration_minutes"]
        done = run_service(form, lambda: services.exercise_schedule(
            actor=request.user, exercise=exercise, planned_start=form.cleaned_data["planned_start"],
            planned_duration=datetime.timedelta(minutes=minutes) if minutes else None,
            location=form.cleaned_data["location"],
        ))
        if done:
            messages.success(request, _("Exercise planned. Send the invitations to the participants."))
            return redirect("exercises:detail", exercise.pk)
    context = _editor_context(request, exercise)
    context["schedule_form"] = form
    return render(request, "exercises/exercise_detail.html", context, status=422)


@login_required
@require_POST
def exercise_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk, write=True)
    try:
        services.exercise_cancel(actor=request.user, exercise=exercise)
        messages.success(request, _("Exercise cancelled: it no longer counts for the yearly obligation."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("exercises:detail", exercise.pk)


# Injects -------------------------------------------------------------------------------


@login_required
def inject_edit(request: HttpRequest, pk: int, inject_pk: int | None = None) -> HttpResponse:
    exercise = _exercise(request, pk, write=request.method == "POST")
    inject = selectors.inject_get_for_user(user=request.user, exercise=exercise, pk=inject_pk) if inject_pk else None
    may_edit = rights.may_edit_exercise(request.user, exercise)
    if inject is None and not may_edit:
        raise PermissionDenied(_("You are not allowed to prepare exercises for this establishment."))
    form = InjectForm(request.POST or None, instance=inject, exercise=exercise)
    if request.method == "POST" and form.is_valid():
        dependencies = list(form.cleaned_data["dependencies"])
        if inject is None:
            saved = run_service(form, lambda: services.inject_create(
                actor=request.user, exercise=exercise, data=form.service_data(), dependencies=dependencies))
        else:
            fresh = type(inject).objects.get(pk=inject.pk)
            saved = run_service(form, lambda: services.inject_update(
                actor=request.user, inject=fresh, data=form.service_data(), dependencies=dependencies))
        if saved is not None:
            messages.success(request, _("Inject %(number)s saved.") % {"number": saved.number})
            return redirect("exercises:inject_edit", exercise.pk, saved.pk)
    return render(request, "exercises/inject_form.html", {
        "exercise": exercise,
        "inject": inject,
        "form": form if may_edit else None,
        "reactions": inject.expected_reactions.select_related("criterion") if inject else [],
        "reaction_form": ReactionForm(exercise=exercise) if inject and may_edit else None,
        "may_edit": may_edit,
        "files": inject.files.all() if inject else [],
        "max_upload_mb": max_upload_bytes() // 2**20,
    }, status=422 if form.errors else 200)


@login_required
@require_POST
def inject_file_add(request: HttpRequest, pk: int, inject_pk: int) -> HttpResponse:
    """Attach a real file to an inject (PDF, image, sound, text), bounded and typed."""
    exercise = _exercise(request, pk, write=True)
    inject = selectors.inject_get_for_user(user=request.user, exercise=exercise, pk=inject_pk)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a file to attach."))
    elif upload.size is not None and upload.size > max_upload_bytes():
        messages.error(request, _("The file is larger than %(size)d MB.") % {"size": max_upload_bytes() // 2**20})
    else:
        try:
            attachments.inject_attachment_add(actor=request.user, inject=inject, name=upload.name or "file",
                                              content=upload.read())
            messages.success(request, _("File attached."))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return redirect(reverse("exercises:inject_edit", args=[exercise.pk, inject.pk]) + "#files")


@login_required
def inject_file(request: HttpRequest, pk: int, inject_pk: int, file_pk: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    inject = selectors.inject_get_for_user(user=request.user, exercise=exercise, pk=inject_pk)
    attachment = inject.files.filter(pk=file_pk).first()
    if attachment is None:
        raise Http404
    return attachment_response(attachment)


@login_required
@require_POST
def inject_file_delete(request: HttpRequest, pk: int, inject_pk: int, file_pk: int) -> HttpResponse:
    exercise = _exercise(request, pk, write=True)
    inject = selectors.inject_get_for_user(user=request.user, exercise=exercise, pk=inject_pk)
    attachment = inject.files.filter(pk=file_pk).first()
    if attachment is None:
        raise Http404
    try:
        attachments.inject_attachment_delete(actor=request.user, attachment=attachment)
        messages.success(request, _("File removed."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(reverse("exercises:inject_edit", args=[exercise.pk, inject.pk]) + "#files")


@login_required
@require_POST
def inject_delete(request: HttpRequest, pk: int, inject_pk: int) -> HttpResponse:
    exercise = _exercise(request, pk, write=True)
    inject = selectors.inject_get_for_user(user=request.user, exercise=exercise, pk=inject_pk, write=True)
    try:
        services.inject_delete(actor=request.user, inject=inject)
        messages.success(request, _("Inject deleted."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("exercises:detail", exercise.pk)


@login_required
@require_POST
def reaction_add(request: HttpRequest, pk: int, inject_pk: int) -> HttpResponse:
    exercise = _exercise(request, pk, write=True)
    inject = selectors.inject_get_for_user(user=request.user, exercise=exercise, pk=inject_pk, write=True)
    form = ReactionForm(request.POST, exercise=exercise)
    if form.is_valid():
        minutes = form.cleaned_data["deadline_minutes"]
        done = run_service(form, lambda: services.expected_reaction_create(
            actor=request.user, inject=inject, description=form.cleaned_data["description"],
            deadline=datetime.timedelta(minutes=minutes) if minutes else None,
            cell=inject.target_cell, criterion=form.cleaned_data["criterion"],
        ))
        if done:
            return redirect("exercises:inject_edit", exercise.pk, inject.pk)
    messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("exercises:inject_edit", exercise.pk, inject.pk)


@login_required
@require_POST
def reaction_delete(request: HttpRequest, pk: int, inject_pk: int, reaction_pk: int) -> HttpResponse:
    exercise = _exercise(request, pk, write=True)
    reaction = get_for_user(
        request.user, ExpectedReaction.objects.filter(inject__exercise=exercise, inject_id=inject_pk),
        Perm.RUN_EXERCISE, pk=reaction_pk,
    )
    try:
        services.expected_reaction_delete(actor=request.user, reaction=reaction)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("exercises:inject_edit", exercise.pk, inject_pk)


# Participants and invitations ----------------------------------------------------------


@login_required
@require_POST
def invitations_send(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk, write=True)
    channels = tuple(c for c in ("email", "sms") if request.POST.get(c)) or invitations.INVITATION_CHANNELS
    try:
        campaigns = invitations.invitations_send(actor=request.user, exercise=exercise, channels=channels)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        count = sum(c.recipients.count() for c in campaigns)
        messages.success(request, ngettext(
            "Invitation sent to %(count)d participant through the alerting engine.",
            "Invitations sent to %(count)d participants through the alerting engine.", count) % {"count": count})
    return redirect(reverse("exercises:detail", args=[exercise.pk]) + "#participants-title")


@login_required
@require_POST
def participant_add(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk, write=True)
    form = ParticipantForm(request.POST, exercise=exercise)
    if form.is_valid():
        done = run_service(form, lambda: services.participant_add(
            actor=request.user, exercise=exercise, person=form.cleaned_data["person"],
            role=form.cleaned_data["role"], cell=form.cleaned_data["cell"],
        ))
        if done:
            messages.success(request, _("Participant saved."))
            return redirect("exercises:detail", exercise.pk)
    context = _editor_context(request, exercise)
    context["participant_form"] = form
    return render(request, "exercises/exercise_detail.html", context, status=422)


@login_required
@require_POST
def participant_remove(request: HttpRequest, pk: int, participant_pk: int) -> HttpResponse:
    exercise = _exercise(request, pk, write=True)
    participant = get_for_user(request.user, Participant.objects.filter(exercise=exercise), Perm.RUN_EXERCISE,
                               pk=participant_pk)
    services.participant_remove(actor=request.user, participant=participant)
    return redirect("exercises:detail", exercise.pk)


def _ics_response(exercise: Exercise, participant: Participant | None) -> HttpResponse:
    if exercise.planned_start is None:
        raise Http404(_("This exercise has no date yet."))
    body = exercise_invitation_ics(exercise=exercise, participant=participant)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8; method=REQUEST")
    suffix = f"-{slugify(str(participant.person))}" if participant else ""
    response["Content-Disposition"] = f'attachment; filename="exercice-{exercise.pk}{suffix}.ics"'
    return response


@login_required
def exercise_ics(request: HttpRequest, pk: int) -> HttpResponse:
    return _ics_response(_exercise(request, pk), None)


@login_required
def participant_ics(request: HttpRequest, pk: int, participant_pk: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    participant = get_for_user(request.user, Participant.objects.filter(exercise=exercise).select_related("person"),
                               pk=participant_pk)
    return _ics_response(exercise, participant)


# Chronogramme import and export ----------------------------------------------------------


def _staging_purpose(exercise: Exercise) -> str:
    return f"exercise-chronogramme:{exercise.pk}"


def _staged(request: HttpRequest, exercise: Exercise) -> tuple[dict[str, Any], bytes]:
    staged = staging.staged_upload_get(owner=request.user, purpose=_staging_purpose(exercise))
    return {**staged.payload, "name": staged.filename}, bytes(staged.content)


@login_required
def import_upload(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk, write=True)
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        data = upload.read()
        kind = "json" if upload.name.lower().endswith(".json") else "xlsx"
        refusal = _workbook_refusal(data) if kind == "xlsx" else ""
        if refusal:
            form.add_error("file", refusal)  # a file that cannot be read is not staged
        else:
            staging.staged_upload_create(
                owner=request.user, purpose=_staging_purpose(exercise), filename=upload.name, content=data,
                payload={"replace": form.cleaned_data["replace"], "kind": kind},
            )
            return redirect("exercises:import_preview", exercise.pk)
    return render(request, "exercises/import_upload.html", {"exercise": exercise, "form": form},
                  status=422 if form.errors else 200)


def _workbook_refusal(data: bytes) -> str:
    """Why a workbook is refused by the bounded reader (every sheet read once), or ""."""
    try:
        workbook = chrono.read_workbook(data)
        try:
            for name in workbook.sheetnames:
                chrono.sheet_rows(workbook, name)
        finally:
            workbook.close()
    except chrono.ChronogrammeFileError as exc:
        return str(exc)
    return ""


def _read_staged(staged: dict[str, Any], data: bytes, exercise: Exercise, *, sheet: str | None = None,
                 mapping: dict[int, str] | None = None) -> chrono.Chronogramme:
    used = set() if staged["replace"] else set(exercise.injects.values_list("number", flat=True))
    if staged["kind"] == "json":
        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise chrono.ChronogrammeFileError(_("This file is not valid JSON.")) from exc
        return chrono.read_json(document, used_numbers=used)
    return chrono.read_xlsx(data, sheet=sheet, mapping=mapping, start=exercise.planned_start, used_numbers=used)


@login_required
def import_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """Preview with the rows read and the rows in error; for XLSX, the sheet and the
    column mapping can be corrected, then the import is confirmed."""
    exercise = _exercise(request, pk, write=True)
    staged, data = _staged(request, exercise)
    form: MappingForm | None = None
    result: chrono.Chronogramme | None = None
    file_error = ""
    try:
        result = _read_staged(staged, data, exercise, sheet=request.POST.get("sheet") or None)
    except chrono.ChronogrammeFileError as exc:
        file_error = str(exc)
    if staged["kind"] == "xlsx":
        sheets, headers = _sheets_and_headers(data, request.POST.get("sheet") or (result.sheet if result else None))
        initial: dict[str, Any] = {"sheet": result.sheet if result else sheets[0] if sheets else ""}
        if result:
            initial |= {f"col_{name}": str(index) for index, name in result.mapping.items()}
        form = MappingForm(request.POST or None, sheets=sheets, headers=headers, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                result = _read_staged(staged, data, exercise, sheet=form.cleaned_data["sheet"],
                                      mapping=form.mapping())
                file_error = ""
            except chrono.ChronogrammeFileError as exc:
                result, file_error = None, str(exc)
    only_good = request.POST.get("only_good_rows") == "on"
    if request.method == "POST" and request.POST.get("action") == "import" and result is not None:
        try:
            created = services.chronogramme_import(
                actor=request.user, exercise=exercise, chronogramme=result, only_good_rows=only_good,
                replace=staged["replace"],
            )
        except ValidationError as exc:
            messages.error(request, _("Nothing was imported: %(reason)s") % {"reason": " ".join(exc.messages[:5])})
        else:
            staging.staged_upload_delete(owner=request.user, purpose=_staging_purpose(exercise))
            messages.success(request, _("%(count)d injects imported.") % {"count": len(created)})
            return redirect("exercises:detail", exercise.pk)
    return render(request, "exercises/import_preview.html", {
        "exercise": exercise, "staged": staged, "form": form, "result": result, "file_error": file_error,
        "preview": result.injects[:200] if result else [],
    }, status=422 if file_error else 200)


def _sheets_and_headers(data: bytes, sheet: str | None) -> tuple[list[str], list[str]]:
    try:
        workbook = chrono.read_workbook(data)
    except chrono.ChronogrammeFileError:
        return [], []
    try:
        names = list(workbook.sheetnames)
        name = sheet if sheet in names else chrono.pick_sheet(workbook)
        rows = chrono.sheet_rows(workbook, name, max_row=40)
    except chrono.ChronogrammeFileError:
        return [], []
    finally:
        workbook.close()
    if not rows:
        return names, []
    index, score = chrono.find_header(rows)
    if score < 2:
        index = next((i for i, row in enumerate(rows) if sum(1 for v in row if v not in (None, "")) >= 2), 0)
    return names, [chrono.cell_text(v) for v in rows[index]]


@login_required
def export_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    response = HttpResponse(
        chrono.export_xlsx(exercise),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="chronogramme-{exercise.pk}.xlsx"'
    return response


@login_required
def export_json(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    response = HttpResponse(
        json.dumps(chrono.export_json(exercise), ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="chronogramme-{exercise.pk}.json"'
    return response
