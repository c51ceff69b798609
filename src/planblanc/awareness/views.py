"""Awareness pages: the establishment's campaigns and progress (managers, department
heads for their departments), and the learner's pages opened from a personal link."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from planblanc import rights
from planblanc.awareness import drills, observatory, selectors, services
from planblanc.awareness.content import module_get
from planblanc.awareness.forms import CampaignForm
from planblanc.awareness.models import Assignment, Campaign, Drill
from planblanc.core.forms import run_service
from planblanc.directory.models import Establishment


def _establishment_for(request: HttpRequest, pk: int) -> tuple[Establishment, frozenset[int] | None]:
    establishment = get_object_or_404(Establishment, pk=pk)
    departments = rights.awareness_departments(request.user, establishment)
    if departments is not None and not departments:
        raise Http404
    return establishment, departments


@login_required
def establishment(request: HttpRequest, pk: int) -> HttpResponse:
    establishment, departments = _establishment_for(request, pk)
    manager = departments is None
    form = CampaignForm(request.POST or None) if manager else None
    if request.method == "POST":
        if not manager or form is None:
            raise Http404
        if form.is_valid():
            created = run_service(form, lambda: services.campaign_create(
                actor=request.user, establishment=establishment, **form.cleaned_data))
            if created is not None:
                messages.success(request, _("Campaign created: %(count)s modules assigned.")
                                 % {"count": created.assignments.count()})
                return redirect("awareness:establishment", pk=establishment.pk)
    latest_drills = [(drill, drills.template_get(drill.template), drills.drill_results(drill=drill, departments=departments))
                     for drill in Drill.objects.filter(establishment=establishment)[:1]]
    campaigns = list(Campaign.objects.filter(establishment=establishment)[:5])
    current = campaigns[0] if campaigns else None
    by_department, by_audience = (
        selectors.campaign_progress(campaign=current, departments=departments) if current else ([], [])
    )
    year = current.year if current else timezone.localdate().year
    return render(request, "awareness/establishment.html", {
        "establishment": establishment, "campaigns": campaigns, "current": current, "manager": manager,
        "form": form, "by_department": by_department, "by_audience": by_audience,
        "drills": latest_drills,
        "refresh_seconds": settings.AWARENESS_PROGRESS_REFRESH_SECONDS,
        "care_axis3": observatory.care_axis3(establishment=establishment, year=year) if manager else [],
    })


@login_required
def campaign_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The campaign's live progress (the fragment the establishment page refreshes)."""
    current = get_object_or_404(Campaign.objects.select_related("establishment"), pk=pk)
    _establishment, departments = _establishment_for(request, current.establishment_id)
    by_department, by_audience = selectors.campaign_progress(campaign=current, departments=departments)
    return render(request, "awareness/_progress.html", {
        "current": current, "manager": departments is None, "by_department": by_department,
        "by_audience": by_audience, "refresh_seconds": settings.AWARENESS_PROGRESS_REFRESH_SECONDS,
    })


@login_required
@require_POST
def campaign_invite(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("establishment"), pk=pk)
    if not rights.may_manage_awareness(request.user, campaign.establishment):
        raise Http404
    try:
        count = services.campaign_invite(actor=request.user, campaign=campaign)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Invitations queued for %(count)s people.") % {"count": count})
    return redirect("awareness:establishment", pk=campaign.establishment_id)


def _learner(token: str) -> services.Learner:
    try:
        return services.link_verify(token)
    except services.LinkError as exc:
        raise Http404(_("This link is not valid or has expired. Ask for a new invitation.")) from exc


def learner_home(request: HttpRequest, token: str) -> HttpResponse:
    """Public, by personal link: the person's modules and where they stand."""
    learner = _learner(token)
    language = (get_language() or "fr")[:2]
    found = [(module_get(a.module), a) for a in selectors.learner_assignments(
        campaign=learner.campaign, person_id=learner.person.pk)]
    rows = [(m, a, m.title.get(language)) for m, a in found if m is not None]
    return render(request, "awareness/learner_home.html", {
        "learner": learner, "token": token, "rows": rows,
        "all_done": bool(rows) and all(a.completed_at for _m, a, _t in rows),
    })


def _assignment(learner: services.Learner, slug: str) -> Assignment:
    assignment = Assignment.objects.filter(campaign=learner.campaign, person=learner.person, module=slug).first()
    if assignment is None or module_get(slug) is None:
        raise Http404
    return assignment


def learner_module(request: HttpRequest, token: str, slug: str) -> HttpResponse:
    learner = _learner(token)
    assignment = _assignment(learner, slug)
    module = module_get(slug)
    language = (get_language() or "fr")[:2]
    return render(request, "awareness/learner_module.html", {
        "learner": learner, "token": token, "assignment": assignment, "module": module,
        "title": module.title.get(language), "summary": module.summary.get(language),  # type: ignore[union-attr]
        "sections": [(s.heading.get(language), s.body.get(language).split("\n\n"))
                     for s in module.sections],  # type: ignore[union-attr]
    })


def learner_quiz(request: HttpRequest, token: str, slug: str) -> HttpResponse:
    learner = _learner(token)
    assignment = _assignment(learner, slug)
    module = module_get(slug)
    language = (get_language() or "fr")[:2]
    questions = services.quiz_questions(assignment=assignment)
    chosen: dict[str, set[int]] = {}
    missing: set[str] = set()
    result = None
    if request.method == "POST":
        for question in questions:
            picked = set()
            for value in request.POST.getlist(f"q-{question.id}")[:10]:
                if value.isdigit() and int(value) < len(question.answers):
                    picked.add(int(value))
            chosen[question.id] = picked
            if not picked:
                missing.add(question.id)
        if not missing:
            score, passed = services.quiz_submit(learner=learner, assignment=assignment, answers=chosen)
            result = {"score": score, "passed": passed, "needed": module.pass_percent}  # type: ignore[union-attr]
    shown = [
        {
            "id": q.id, "text": q.text.get(language), "missing": q.id in missing,
            "answers": [
                {"index": i, "text": a.text.get(language), "checked": i in chosen.get(q.id, set()),
                 "correct": a.correct, "explanation": a.explanation.get(language)}
                for i, a in enumerate(q.answers)
            ],
        }
        for q in questions
    ]
    if result is not None:
        assignment.refresh_from_db()
    return render(request, "awareness/learner_quiz.html", {
        "learner": learner, "token": token, "assignment": assignment, "module": module,
        "title": module.title.get(language), "questions": shown, "result": result,  # type: ignore[union-attr]
    })


def learner_certificate(request: HttpRequest, token: str) -> HttpResponse:
    learner = _learner(token)
    try:
        content = services.certificate_pdf(learner=learner)
    except ValidationError as exc:
        raise Http404(exc.messages[0]) from exc
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="attestation-sensibilisation-{learner.campaign.year}.pdf"'
    return response


@login_required
def reflex_card(request: HttpRequest, pk: int) -> HttpResponse:
    """The establishment's printable pocket card (A6), for whoever sees its directory."""
    establishment = get_object_or_404(Establishment.objects.visible_to(request.user), pk=pk)
    try:
        content = services.reflex_card_pdf(actor=request.user, establishment=establishment)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("awareness:establishment", pk=establishment.pk)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="carte-reflexe.pdf"'
    return response
