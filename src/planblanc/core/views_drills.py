"""Launching a phishing drill: the awareness app writes the drill and its outbox, and the
exercises app records it as an exercise of the establishment, in one transaction.

This lives in the site layer because the awareness and exercises apps are siblings that
may not import each other (the layers contract in pyproject.toml); the observatory's
"exercised this year" then counts the drill like any other exercise."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from planblanc import rights
from planblanc.actors import Actor
from planblanc.awareness import drills
from planblanc.awareness.models import Drill
from planblanc.awareness.views_drills import DrillForm, drills_page
from planblanc.core.forms import run_service
from planblanc.directory.models import Establishment
from planblanc.exercises.services import exercise_record_phishing_drill


def drill_launch(
    *, actor: Actor, establishment: Establishment, template: str, population: str = "all",
    departments: list[int] | None = None, audiences: list[str] | None = None,
) -> Drill:
    """The drill, its outbox and the establishment's exercise that records it, all or nothing."""
    with transaction.atomic():
        drill = drills.drill_create(actor=actor, establishment=establishment, template=template,
                                    population=population, departments=departments, audiences=audiences)
        spec = drills.template_get(drill.template)
        exercise = exercise_record_phishing_drill(
            actor=actor, establishment=establishment, held_at=drill.created_at or timezone.now(),
            title=_("Phishing drill: %(title)s") % {"title": spec.title if spec else drill.template},
        )
        drills.drill_link_exercise(drill=drill, exercise_id=exercise.pk)
    return drill


@login_required
@require_POST
def drill_new(request: HttpRequest, pk: int) -> HttpResponse:
    establishment = get_object_or_404(Establishment, pk=pk)
    if not rights.may_manage_awareness(request.user, establishment):
        raise Http404
    form = DrillForm(request.POST, establishment=establishment)
    if form.is_valid():
        drill = run_service(form, lambda: drill_launch(actor=request.user, establishment=establishment,
                                                       **form.cleaned_data))
        if drill is not None:
            messages.success(request, _("Phishing drill launched: %(count)s messages are being sent.")
                             % {"count": drill.targets.count()})
            return redirect("awareness:drill_detail", pk=drill.pk)
    return drills_page(request, establishment, None, form=form)
