"""Pages of the live run: the animator console (polled every 2 s by HTMX), the player
space, the observer space, the evaluation, the lessons-learned report and the public
questionnaire. Thin: the rules live in exercises.run, evaluation and report.

Tenancy: the exercise is read through run.exercise_for_run (404 outside scope); each
action checks its own right (403)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from planblanc import rights
from planblanc.core.forms import BootstrapFormMixin, run_service
from planblanc.directory.models import Person
from planblanc.exercises import attachments, evaluation, media, report
from planblanc.exercises import run as run_services
from planblanc.exercises.models import (
    FEED_CHANNELS,
    EvaluationCriterion,
    Exercise,
    ExerciseRun,
    ExpectedReaction,
    Inject,
    InjectAttachment,
    InjectRun,
    Outcome,
)


def _exercise(request: HttpRequest, pk: int) -> Exercise:
    return run_services.exercise_for_run(user=request.user, pk=pk)


def _run(exercise: Exercise) -> ExerciseRun:
    run = run_services.run_of(exercise=exercise)
    if run is None:
        raise Http404
    return run


def _row(run: ExerciseRun, row_pk: int) -> InjectRun:
    try:
        row = InjectRun.objects.select_related("inject", "run__exercise__establishment").get(pk=row_pk, run=run)
    except InjectRun.DoesNotExist as exc:
        raise Http404 from exc
    return row


def _refuse_unless(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied(_("You are not allowed to do this in this exercise."))


def _console_context(exercise: Exercise, run: ExerciseRun | None) -> dict[str, Any]:
    now = timezone.now()
    context: dict[str, Any] = {"exercise": exercise, "run": run, "now": now}
    if run is not None:
        context.update({
            "rows": list(run_services.inject_runs(run=run)),
            "upcoming": run_services.upcoming(run=run, now=now),
            "simulated": run.simulated_time(now),
            "simulated_seconds": int(run.simulated_seconds(now)),
            "markers": [
                {"marker": m, "passed": m.offset is not None and m.offset.total_seconds() <= run.simulated_seconds(now)}
                for m in exercise.markers.all()
            ],
            "speeds": range(run_services.MIN_SPEED, run_services.MAX_SPEED + 1),
        })
    return context


# ---------------------------------------------------------------------------- animator console


@login_required
def console(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    _refuse_unless(rights.may_animate_run(request.user, exercise))
    context = _console_context(exercise, run_services.run_of(exercise=exercise))
    context["speeds"] = range(run_services.MIN_SPEED, run_services.MAX_SPEED + 1)
    return render(request, "exercises/run/console.html", context)


@login_required
def console_state(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    _refuse_unless(rights.may_animate_run(request.user, exercise))
    return render(request, "exercises/run/_state.html", _console_context(exercise, run_services.run_of(exercise=exercise)))


def _act(request: HttpRequest, exercise: Exercise, call: Any, done: str) -> HttpResponse:
    try:
        call()
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, done)
    return redirect("exercises:run_console", pk=exercise.pk)


def _speed(request: HttpRequest) -> int:
    try:
        return int(request.POST.get("speed", "1"))
    except ValueError:
        return 0


@login_required
@require_POST
def run_start(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    return _act(request, exercise, lambda: run_services.run_start(
        actor=request.user, exercise=exercise, speed=_speed(request)), _("The exercise has started."))


@login_required
@require_POST
def run_control(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    exercise = _exercise(request, pk)
    run = _run(exercise)
    calls = {
        "pause": (lambda: run_services.run_pause(actor=request.user, run=run), _("Paused.")),
        "resume": (lambda: run_services.run_resume(actor=request.user, run=run), _("Resumed.")),
        "speed": (lambda: run_services.run_set_speed(actor=request.user, run=run, speed=_speed(request)),
                  _("Speed changed.")),
        "finish": (lambda: run_services.run_finish(actor=request.user, run=run), _("The exercise is finished.")),
    }
    if action not in calls:
        raise Http404
    call, done = calls[action]
    return _act(request, exercise, call, done)


@login_required
@require_POST
def inject_action(request: HttpRequest, pk: int, row_pk: int, action: str) -> HttpResponse:
    exercise = _exercise(request, pk)
    run = _run(exercise)
    row = _row(run, row_pk)
    row.run = run
    note = request.POST.get("note", "")

    def fire() -> None:
        if not run_services.inject_fire(actor=request.user, row=row):
            raise ValidationError(_("This inject is no longer waiting: nothing was sent."))

    calls = {
        "fire": (fire, _("Inject sent.")),
        "skip": (lambda: run_services.inject_skip(actor=request.user, row=row, note=note), _("Inject skipped.")),
        "exclude": (lambda: run_services.inject_exclude(actor=request.user, row=row, note=note),
                    _("Inject excluded.")),
        "note": (lambda: run_services.inject_set_note(actor=request.user, row=row, note=note), _("Note saved.")),
        "take": (lambda: run_services.inject_take_in_hand(actor=request.user, row=row), _("Taken in hand.")),
    }
    if action not in calls:
        raise Http404
    call, done = calls[action]
    if action == "take" and request.headers.get("HX-Request"):
        # From the player's inbox: answer with the inbox itself, updated in place.
        notice = done
        try:
            call()
        except ValidationError as exc:
            notice = " ".join(exc.messages)
        template = "exercises/run/_feed.html" if row.inject.channel in FEED_CHANNELS else "exercises/run/_inbox.html"
        return render(request, template, {**_player_context(request, exercise), "notice": notice})
    response = _act(request, exercise, call, done)
    if action == "take" and not rights.may_animate_run(request.user, exercise):
        return redirect("exercises:run_player", pk=exercise.pk)
    return response


# ---------------------------------------------------------------------------- players


def _player_context(request: HttpRequest, exercise: Exercise) -> dict[str, Any]:
    _refuse_unless(rights.may_play_run(request.user, exercise))
    run = run_services.run_of(exercise=exercise)
    participant = rights.exercise_participant(request.user, exercise)
    cell = participant.cell if participant is not None and participant.role == "player" else ""
    return {
        "exercise": exercise, "run": run, "inbox": run_services.inbox(run=run, cell=cell) if run else [],
        "feed": media.feed(run=run, cell=cell) if run else [], "participant": participant, "cell": cell,
    }


@login_required
def player(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "exercises/run/player.html", _player_context(request, _exercise(request, pk)))


@login_required
def player_inbox(request: HttpRequest, pk: int) -> HttpResponse:
    """The inbox alone, polled every few seconds by the player space (HTMX)."""
    return render(request, "exercises/run/_inbox.html", _player_context(request, _exercise(request, pk)))


@login_required
def player_feed(request: HttpRequest, pk: int) -> HttpResponse:
    """The public feed alone (posts, journalists' calls, press articles), polled by the
    player space like the inbox."""
    return render(request, "exercises/run/_feed.html", _player_context(request, _exercise(request, pk)))


@login_required
def player_attachment(request: HttpRequest, pk: int, file_pk: int) -> HttpResponse:
    """A file of a fired inject, for its recipients only; anything else is a 404."""
    context = _player_context(request, _exercise(request, pk))
    run = context["run"]
    attachment = InjectAttachment.objects.filter(pk=file_pk, inject__exercise=context["exercise"]).select_related(
        "inject").first()
    if run is None or attachment is None or not attachments.attachment_for_player(
            run=run, attachment=attachment, cell=context["cell"]):
        raise Http404
    return attachment_response(attachment)


def attachment_response(attachment: InjectAttachment) -> HttpResponse:
    try:
        content = attachments.attachment_content(attachment)
    except (OSError, ValidationError) as exc:
        raise Http404 from exc
    response = HttpResponse(content, content_type=attachment.content_type)
    # Images and PDFs open in the browser; nothing else runs inline (types are sniffed at upload).
    disposition = "inline" if attachment.content_type.startswith(("image/", "application/pdf")) else "attachment"
    response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(attachment.name)}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    return response


# ---------------------------------------------------------------------------- observers


class ObservationForm(BootstrapFormMixin, forms.Form):
    text = forms.CharField(label=gettext_lazy("Observation"), widget=forms.Textarea(attrs={"rows": 3}))
    inject = forms.ModelChoiceField(label=gettext_lazy("Inject"), queryset=Inject.objects.none(), required=False)
    criterion = forms.ModelChoiceField(label=gettext_lazy("Criterion"), queryset=EvaluationCriterion.objects.none(),
                                       required=False)

    def __init__(self, *args: Any, exercise: Exercise, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["inject"].queryset = Inject.objects.filter(exercise=exercise).order_by("number")  # type: ignore[attr-defined]
        self.fields["criterion"].queryset = EvaluationCriterion.objects.filter(exercise=exercise)  # type: ignore[attr-defined]


@login_required
def observer(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    _refuse_unless(rights.may_observe_run(request.user, exercise))
    run = run_services.run_of(exercise=exercise)
    form = ObservationForm(request.POST or None, exercise=exercise)
    if request.method == "POST" and run is not None and form.is_valid():
        done = run_service(form, lambda: run_services.observation_add(
            actor=request.user, run=run, text=form.cleaned_data["text"], inject=form.cleaned_data["inject"],
            criterion=form.cleaned_data["criterion"]))
        if done is not None:
            messages.success(request, _("Observation saved."))
            return redirect("exercises:run_observer", pk=exercise.pk)
    observations = list(run.observations.select_related("inject", "criterion").order_by("-at")) if run else []
    return render(request, "exercises/run/observer.html", {
        "exercise": exercise, "run": run, "form": form, "observations": observations,
        "simulated": run.simulated_time() if run else None,
    })


# ---------------------------------------------------------------------------- evaluation


@login_required
def evaluation_page(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    run = _run(exercise)
    may_tick = rights.may_observe_run(request.user, exercise)
    if request.method == "POST":
        _refuse_unless(may_tick)
        try:
            reaction = ExpectedReaction.objects.select_related("inject").get(
                pk=request.POST.get("reaction"), inject__exercise=exercise)
        except (ExpectedReaction.DoesNotExist, ValueError) as exc:
            raise Http404 from exc
        error = ""
        try:
            evaluation.reaction_tick(actor=request.user, run=run, reaction=reaction,
                                     outcome=request.POST.get("outcome", ""), note=request.POST.get("note", ""))
        except ValidationError as exc:
            error = " ".join(exc.messages)
        if request.headers.get("HX-Request"):
            # Update the reaction's card and the overall score in place (the scroll stays).
            scores = evaluation.evaluation_scores(run=run, with_previous=False)
            row = next((r for r in _evaluation_rows(scores) if r["reaction"].pk == reaction.pk), None)
            if row is None:
                raise Http404
            return render(request, "exercises/evaluation/_row.html", {
                **row, "exercise": exercise, "may_tick": may_tick, "outcomes": Outcome.choices, "scores": scores,
                "oob": True, "saved": not error, "error": error,
            })
        if error:
            messages.error(request, error)
        return redirect("exercises:run_evaluation", pk=exercise.pk)
    if may_tick:
        evaluation.evaluation_compute(run=run)
    scores = evaluation.evaluation_scores(run=run)
    return render(request, "exercises/evaluation/page.html", {
        "exercise": exercise, "run": run, "scores": scores, "may_tick": may_tick,
        "outcomes": Outcome.choices, "rows": _evaluation_rows(scores),
    })


def _evaluation_rows(scores: Any) -> list[dict[str, Any]]:
    """Each expected reaction with its outcome and that outcome's label in the user's language."""
    labels = dict(Outcome.choices)
    return [
        {"reaction": reaction, "outcome": outcome, "check": check, "label": labels.get(outcome, outcome)}
        for reaction, outcome, check in scores.rows
    ]


# ---------------------------------------------------------------------------- report


class ActionForm(BootstrapFormMixin, forms.Form):
    title = forms.CharField(label=gettext_lazy("Improvement action"), max_length=500)
    owner = forms.ModelChoiceField(label=gettext_lazy("Owner"), queryset=Person.objects.none(), required=False)
    owner_label = forms.CharField(label=gettext_lazy("or owner's name"), required=False, max_length=200)
    due_date = forms.DateField(label=gettext_lazy("Due date"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))

    def __init__(self, *args: Any, exercise: Exercise, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = Person.objects.filter(  # type: ignore[attr-defined]
            memberships__establishment=exercise.establishment).distinct().order_by("last_name", "first_name")


@login_required
def report_page(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    run = _run(exercise)
    may_write = rights.may_animate_run(request.user, exercise)
    form = ActionForm(request.POST or None, exercise=exercise)
    if request.method == "POST":
        _refuse_unless(may_write)
        if form.is_valid():
            done = run_service(form, lambda: report.improvement_action_add(
                actor=request.user, run=run, title=form.cleaned_data["title"], due_date=form.cleaned_data["due_date"],
                owner=form.cleaned_data["owner"], owner_label=form.cleaned_data["owner_label"]))
            if done is not None:
                messages.success(request, _("Improvement action added; it appears in the plan's gaps."))
                return redirect("exercises:run_report", pk=exercise.pk)
    return render(request, "exercises/report/page.html", {
        **report.report_context(run=run), "form": form, "may_write": may_write,
        "questionnaire_url": report.questionnaire_url(run=run),
    })


@login_required
def report_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    run = _run(exercise)
    content = report.report_pdf(actor=request.user, run=run)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="retex-exercice-{exercise.pk}.pdf"'
    return response


class QuestionnaireAnswerForm(BootstrapFormMixin, forms.Form):
    MARKS = [(n, str(n)) for n in range(1, 6)]
    rating = forms.TypedChoiceField(label=gettext_lazy("Overall, how useful was this exercise? (1 to 5)"),
                                    choices=MARKS, coerce=int)
    realism = forms.TypedChoiceField(label=gettext_lazy("How realistic was the scenario? (1 to 5)"),
                                     choices=MARKS, coerce=int)
    went_well = forms.CharField(label=gettext_lazy("What went well"), required=False,
                                widget=forms.Textarea(attrs={"rows": 3}))
    to_improve = forms.CharField(label=gettext_lazy("What should be improved"), required=False,
                                 widget=forms.Textarea(attrs={"rows": 3}))
    respondent = forms.CharField(label=gettext_lazy("Your name (optional)"), required=False, max_length=200)


def questionnaire(request: HttpRequest, token: str) -> HttpResponse:
    """Public, by signed link: participants answer without an account."""
    try:
        run = report.questionnaire_run(token=token)
    except ValidationError as exc:
        raise Http404(exc.messages[0]) from exc
    form = QuestionnaireAnswerForm(request.POST or None)
    thanks = False
    if request.method == "POST" and form.is_valid():
        thanks = run_service(form, lambda: report.questionnaire_answer(run=run, **form.cleaned_data)) is not None
    return render(request, "exercises/report/questionnaire.html", {
        "exercise": run.exercise, "form": form, "thanks": thanks})
