"""Readiness pages: thin views over selectors and services; tenancy through get_for_user."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from planblanc.core.forms import run_service
from planblanc.directory.models import Establishment
from planblanc.readiness import care, selectors, services
from planblanc.readiness.forms import ActionForm, AnswerForm, EvidenceForm, GovernanceForm
from planblanc.readiness.models import Action, Assessment, Evidence, Measure, Referential
from planblanc.tenancy import Perm, can, get_for_user


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


@login_required
def index(request: HttpRequest) -> HttpResponse:
    establishments = Establishment.objects.visible_to(request.user).order_by("name")
    search = request.GET.get("q", "").strip()
    if search:
        establishments = establishments.filter(name__icontains=search)
    page = Paginator(establishments.only("pk", "name", "category", "is_essential_operator"), 50).get_page(
        request.GET.get("page")
    )
    on_page = Establishment.objects.filter(pk__in=[e.pk for e in page.object_list])
    scores = selectors.scores_by_establishment(establishments=on_page)
    open_actions = selectors.open_actions_by_establishment(establishments=on_page)
    rows = [(e, sorted(scores.get(e.pk, {}).items()), open_actions.get(e.pk, 0)) for e in page.object_list]
    return render(request, "readiness/index.html", {"page": page, "rows": rows, "search": search})


@login_required
def establishment_home(request: HttpRequest, pk: int) -> HttpResponse:
    establishment = get_for_user(request.user, Establishment, pk=pk)
    assessments = selectors.establishment_assessments(establishment=establishment)
    trends = selectors.trends_for(assessments=assessments)
    by_referential = {a.referential_id: a for a in assessments}
    referentials = [
        (referential, by_referential.get(referential.pk), trends.get(getattr(by_referential.get(referential.pk), "pk", 0), []))
        for referential in selectors.referentials_applicable(establishment=establishment)
    ]
    return render(request, "readiness/establishment.html", {
        "establishment": establishment,
        "referentials": referentials,
        "open_actions": selectors.actions_open(establishment=establishment)[:10],
        "overdue": selectors.actions_overdue_count(establishment=establishment),
        "governance": selectors.governance_view(establishment=establishment),
        "may_assess": can(request.user, Perm.ASSESS, establishment),
        "today": timezone.localdate(),
        "care": care.care_domain2(today=timezone.localdate()),
    })


@login_required
@require_POST
def assessment_start(request: HttpRequest, pk: int, referential_pk: int) -> HttpResponse:
    establishment = get_for_user(request.user, Establishment, Perm.ASSESS, pk=pk)
    referential = Referential.objects.filter(pk=referential_pk).first()
    if referential is None or not referential.applies_to_establishment(establishment):
        raise Http404
    assessment = services.assessment_start(actor=request.user, establishment=establishment, referential=referential)
    return redirect("readiness:assessment", pk=assessment.pk)


def _row_context(request: HttpRequest, assessment: Assessment, row: selectors.MeasureRow,
                 levels: list, form: AnswerForm | None = None, evidence_form: EvidenceForm | None = None) -> dict:
    answer = row.answer
    initial = {}
    if answer is not None:
        initial = {
            "level": answer.level.code if answer.level else "", "not_applicable": answer.not_applicable,
            "not_applicable_reason": answer.not_applicable_reason, "comment": answer.comment,
        }
    prefix = f"m{row.measure.pk}"
    return {
        "assessment": assessment, "row": row,
        "form": form or AnswerForm(initial=initial, levels=levels, prefix=prefix),
        "evidence_form": evidence_form or EvidenceForm(prefix=f"{prefix}e"),
        "level_labels": [assessment.referential.level_label(code) for code in row.measure.levels],
        "may_assess": can(request.user, Perm.ASSESS, assessment.establishment),
        "today": timezone.localdate(),
    }


@login_required
def assessment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    assessment = selectors.assessment_for_user(user=request.user, pk=pk)
    levels = selectors.assessment_levels(assessment=assessment)
    blocks = [
        (block.theme, [_row_context(request, assessment, row, levels) for row in block.rows])
        for block in selectors.assessment_rows(assessment=assessment)
    ]
    score = services.assessment_compute_score(assessment=assessment)
    return render(request, "readiness/assessment.html", {
        "assessment": assessment, "establishment": assessment.establishment, "blocks": blocks, "score": score,
        "trend": selectors.assessment_trend(assessment=assessment),
        "levels": levels, "may_assess": can(request.user, Perm.ASSESS, assessment.establishment),
    })


def _measure_of(assessment: Assessment, measure_pk: int) -> Measure:
    measure = Measure.objects.filter(pk=measure_pk, referential_id=assessment.referential_id).first()
    if measure is None:
        raise Http404
    return measure


def _render_row(request: HttpRequest, assessment: Assessment, measure: Measure,
                form: AnswerForm | None = None, evidence_form: EvidenceForm | None = None,
                status: int = 200) -> HttpResponse:
    levels = selectors.assessment_levels(assessment=assessment)
    (block,) = selectors.assessment_rows(assessment=assessment, measure_ids=[measure.pk])
    context = _row_context(request, assessment, block.rows[0], levels, form, evidence_form)
    context["score"] = services.assessment_compute_score(assessment=assessment)
    context["oob_score"] = True
    return render(request, "readiness/_measure.html", context, status=status)


@login_required
@require_POST
def answer_record(request: HttpRequest, pk: int, measure_pk: int) -> HttpResponse:
    assessment = selectors.assessment_for_user(user=request.user, pk=pk, perm=Perm.ASSESS)
    measure = _measure_of(assessment, measure_pk)
    levels = selectors.assessment_levels(assessment=assessment)
    form = AnswerForm(request.POST, levels=levels, prefix=f"m{measure.pk}")
    saved = None
    if form.is_valid():
        data = form.cleaned_data
        saved = run_service(form, lambda: services.answer_record(
            actor=request.user, assessment=assessment, measure=measure, level_code=data["level"],
            not_applicable=data["not_applicable"], not_applicable_reason=data["not_applicable_reason"],
            comment=data["comment"],
        ))
    if _is_htmx(request):
        if saved is not None:
            return _render_row(request, assessment, measure)
        return _render_row(request, assessment, measure, form=form)
    if saved is not None:
        messages.success(request, _("Answer saved."))
    else:
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
    return redirect(reverse("readiness:assessment", args=[assessment.pk]) + f"#measure-{measure.pk}")


@login_required
def answer_history(request: HttpRequest, pk: int, measure_pk: int) -> HttpResponse:
    assessment = selectors.assessment_for_user(user=request.user, pk=pk)
    measure = _measure_of(assessment, measure_pk)
    return render(request, "readiness/answer_history.html", {
        "assessment": assessment, "establishment": assessment.establishment, "measure": measure,
        "answers": selectors.answer_history(assessment=assessment, measure=measure),
    })


@login_required
@require_POST
def evidence_add(request: HttpRequest, pk: int, measure_pk: int) -> HttpResponse:
    assessment = selectors.assessment_for_user(user=request.user, pk=pk, perm=Perm.ASSESS)
    measure = _measure_of(assessment, measure_pk)
    form = EvidenceForm(request.POST, request.FILES, prefix=f"m{measure.pk}e")
    saved = None
    if form.is_valid():
        data = form.cleaned_data
        saved = run_service(form, lambda: services.evidence_add(
            actor=request.user, assessment=assessment, measure=measure, title=data["title"],
            url=data["url"], file=data["file"], expires_on=data["expires_on"],
        ))
    if _is_htmx(request):
        if saved is not None:
            return _render_row(request, assessment, measure)
        return _render_row(request, assessment, measure, evidence_form=form)
    if saved is not None:
        messages.success(request, _("Evidence added."))
    else:
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
    return redirect(reverse("readiness:assessment", args=[assessment.pk]) + f"#measure-{measure.pk}")


@login_required
def evidence_file(request: HttpRequest, pk: int) -> HttpResponse:
    evidence = get_for_user(request.user, Evidence.objects.select_related("assessment__establishment"), pk=pk)
    if not evidence.file:
        raise Http404
    name = Path(evidence.file.name).name
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    # Always as an attachment: an uploaded HTML or SVG must not run in our origin.
    return FileResponse(evidence.file.open("rb"), as_attachment=True, filename=name, content_type=content_type)


@login_required
def action_list(request: HttpRequest, pk: int) -> HttpResponse:
    establishment = get_for_user(request.user, Establishment, pk=pk)
    may_assess = can(request.user, Perm.ASSESS, establishment)
    form = None
    if may_assess:
        initial = {}
        if request.GET.get("measure"):
            initial["measure"] = request.GET["measure"]
        form = ActionForm(request.POST or None, initial=initial, establishment=establishment)
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            action = run_service(form, lambda: services.action_create(
                actor=request.user, establishment=establishment, data=form.cleaned_data
            ))
            if action is not None:
                messages.success(request, _("Action added to the plan."))
                return redirect("readiness:actions", pk=establishment.pk)
    show = request.GET.get("show", "open")
    return render(request, "readiness/actions.html", {
        "establishment": establishment, "form": form, "may_assess": may_assess, "show": show,
        "actions": selectors.action_list(establishment=establishment, open_only=show != "all"),
        "today": timezone.localdate(),
    })


@login_required
def action_edit(request: HttpRequest, pk: int) -> HttpResponse:
    action = get_for_user(request.user, Action.objects.select_related("establishment"), Perm.ASSESS, pk=pk)
    form = ActionForm(request.POST or None, instance=action, establishment=action.establishment)
    if request.method == "POST" and form.is_valid():
        saved = run_service(form, lambda: services.action_update(
            actor=request.user, action=form.instance, data=form.cleaned_data
        ))
        if saved is not None:
            messages.success(request, _("Changes saved."))
            return redirect("readiness:actions", pk=action.establishment_id)
    return render(request, "readiness/action_form.html", {
        "form": form, "action": action, "establishment": action.establishment,
    })


def _year(raw: str | None) -> int:
    this_year = timezone.localdate().year
    try:
        year = int(raw) if raw else this_year
    except ValueError:
        return this_year
    return year if 2000 <= year <= this_year + 1 else this_year


@login_required
def governance(request: HttpRequest, pk: int) -> HttpResponse:
    establishment = get_for_user(request.user, Establishment, pk=pk)
    year = _year(request.GET.get("year") or request.POST.get("year"))
    view = selectors.governance_view(establishment=establishment, year=year)
    may_assess = can(request.user, Perm.ASSESS, establishment)
    form = None
    if may_assess:
        form = GovernanceForm(request.POST or None, instance=view.record, establishment=establishment)
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            try:
                record = run_service(form, lambda: services.governance_record_save(
                    actor=request.user, establishment=establishment, year=year, data=form.cleaned_data
                ))
            except PermissionDenied as exc:
                raise Http404 from exc
            if record is not None:
                messages.success(request, _("Governance record saved."))
                return redirect(reverse("readiness:governance", args=[establishment.pk]) + f"?year={year}")
    this_year = timezone.localdate().year
    return render(request, "readiness/governance.html", {
        "establishment": establishment, "view": view, "form": form, "year": year,
        "years": list(range(this_year + 1, this_year - 5, -1)), "may_assess": may_assess,
    })


