"""Pages of regional exercises: the list, the preparation form (scenario, establishments,
start), the regional animator console (polled every 2 s by HTMX, which also shows the
preparation's progress; every action swaps the state in place), and the comparison report with its exports. Thin: the rules live in
exercises.regional.

Tenancy: a regional exercise is read through regional.regional_exercise_get_for_user (404
outside the viewer's regions and groups); every action checks its own right (403)."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any

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
from planblanc.core import tabular
from planblanc.core.forms import BootstrapFormMixin, run_service
from planblanc.exercises import regional
from planblanc.exercises import run as run_services
from planblanc.exercises.kits import kits
from planblanc.exercises.models import Exercise, RegionalExercise

SPEEDS = range(run_services.MIN_SPEED, run_services.MAX_SPEED + 1)


def _refuse_unless(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied(_("You are not allowed to run regional exercises."))


def _regional(request: HttpRequest, pk: int) -> RegionalExercise:
    return regional.regional_exercise_get_for_user(user=request.user, pk=pk)


@login_required
def regional_list(request: HttpRequest) -> HttpResponse:
    _refuse_unless(rights.may_run_regional_exercises_somewhere(request.user))
    return render(request, "exercises/regional/list.html", {
        "regionals": regional.regional_exercise_list(user=request.user)[:200],
    })


class RegionalExerciseForm(BootstrapFormMixin, forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200,
                            help_text=gettext_lazy("Variables: {etablissement}, {directeur}, {voisins}, {ville}, "
                                                   "{finess}."))
    kit_slug = forms.ChoiceField(label=gettext_lazy("Kit"), required=False)
    model = forms.ModelChoiceField(label=gettext_lazy("or a model exercise"), queryset=Exercise.objects.none(),
                                   required=False)
    planned_start = forms.DateTimeField(label=gettext_lazy("Planned start"),
                                        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    speed = forms.TypedChoiceField(label=gettext_lazy("Speed"), coerce=int,
                                   choices=[(s, f"×{s}") for s in SPEEDS], initial=1)
    establishments = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Establishments"), queryset=regional.launchable_establishments(user=None),
        widget=forms.CheckboxSelectMultiple)
    # One key per form shown: the same form submitted twice creates one regional exercise.
    submission_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kit_slug"].choices = [("", "—")] + [(k.slug, k.title) for k in kits().values()]  # type: ignore[attr-defined]
        self.fields["model"].queryset = regional.model_exercises(user=user)[:100]  # type: ignore[attr-defined]
        self.fields["establishments"].queryset = regional.launchable_establishments(  # type: ignore[attr-defined]
            user=user).order_by("name")
        self.fields["establishments"].widget.attrs["class"] = "list-unstyled"


@login_required
def regional_create(request: HttpRequest) -> HttpResponse:
    _refuse_unless(rights.may_run_regional_exercises_somewhere(request.user))
    form = RegionalExerciseForm(request.POST or None, user=request.user, initial={
        "planned_start": (timezone.localtime() + datetime.timedelta(days=7)).replace(
            minute=0, second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M"),
        "submission_key": uuid.uuid4().hex})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        created = run_service(form, lambda: regional.regional_exercise_create(
            actor=request.user, title=data["title"], establishments=list(data["establishments"]),
            planned_start=data["planned_start"], kit_slug=data["kit_slug"], model=data["model"],
            speed=data["speed"], submission_key=data["submission_key"]))
        if created is not None:
            # The exercises are written by a worker: the console shows how many are ready.
            messages.success(request, _("The regional exercise is being prepared: the console shows each "
                                        "establishment's exercise as it is written. Each establishment then "
                                        "names its animator, players and observers in its own exercise."))
            return redirect("exercises:regional_console", pk=created.pk)
    return render(request, "exercises/regional/create.html", {"form": form})


def _console_context(item: RegionalExercise) -> dict[str, Any]:
    return {"regional": item, "progress": regional.regional_progress(regional=item)}


@login_required
def regional_console(request: HttpRequest, pk: int) -> HttpResponse:
    item = _regional(request, pk)
    _refuse_unless(rights.may_animate_regional_exercise(request.user, item))
    return render(request, "exercises/regional/console.html", _console_context(item))


@login_required
def regional_state(request: HttpRequest, pk: int) -> HttpResponse:
    """The console's state alone, polled every 2 s."""
    item = _regional(request, pk)
    _refuse_unless(rights.may_animate_regional_exercise(request.user, item))
    return render(request, "exercises/regional/_state.html", _console_context(item))


@login_required
@require_POST
def regional_control(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    item = _regional(request, pk)
    _refuse_unless(rights.may_animate_regional_exercise(request.user, item))
    calls: dict[str, tuple[Callable[..., regional.RegionalOutcome], str]] = {
        "launch": (regional.regional_launch, _("Launched in %(done)d establishments.")),
        "pause": (regional.regional_pause, _("Paused in %(done)d establishments.")),
        "resume": (regional.regional_resume, _("Resumed in %(done)d establishments.")),
        "fire-next": (regional.regional_fire_next, _("Next inject sent in %(done)d establishments.")),
        "finish": (regional.regional_finish, _("Ended in %(done)d establishments.")),
        "prepare-again": (regional.regional_preparation_retry,
                          _("Being prepared again in %(done)d establishments.")),
    }
    if action not in calls:
        raise Http404
    call, done = calls[action]
    notices: list[tuple[str, str]] = []
    try:
        outcome = call(actor=request.user, regional=item)
    except ValidationError as exc:
        notices = [("danger", message) for message in exc.messages]
    else:
        notices.append(("success", done % {"done": outcome.done}))
        notices.extend(("warning", f"{name}: {' '.join(reasons)}") for name, reasons in
                       sorted(outcome.refused.items())[:20])
    item.refresh_from_db()
    if request.headers.get("HX-Request"):
        return render(request, "exercises/regional/_state.html", {**_console_context(item), "notices": notices})
    for level, text in notices:
        (messages.error if level == "danger" else messages.success if level == "success" else messages.warning)(
            request, text)
    return redirect("exercises:regional_console", pk=item.pk)


@login_required
def regional_report(request: HttpRequest, pk: int) -> HttpResponse:
    item = _regional(request, pk)
    _refuse_unless(rights.may_animate_regional_exercise(request.user, item))
    return render(request, "exercises/regional/report.html", {
        "regional": item, "report": regional.regional_report(regional=item)})


@login_required
def regional_report_export(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """CSV: the comparison per establishment (named), or anonymised by category."""
    item = _regional(request, pk)
    _refuse_unless(rights.may_animate_regional_exercise(request.user, item))
    report = regional.regional_report(regional=item)
    if kind == "etablissements":
        rows = regional.regional_report_rows(report=report)
    elif kind == "anonyme":
        rows = regional.regional_report_anonymised_rows(report=report)
    else:
        raise Http404
    return tabular.csv_response(rows, filename=f"exercice-regional-{item.pk}-{kind}.csv")

