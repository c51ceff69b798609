"""Phishing drill pages: the establishment's drills and their results per department
(managers; department heads for their departments), and the pages a person reaches from
the drill's message without an account (fake sign-in, teaching page, report, image).

The drill is launched by the site (planblanc.core.views_drills), which also records it
as an exercise of the establishment; this module gives it the form and the page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseNotAllowed,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from planblanc import rights
from planblanc.awareness import drills
from planblanc.awareness.audiences import Audience
from planblanc.awareness.content import module_get
from planblanc.awareness.models import Drill, DrillTarget
from planblanc.core.forms import BootstrapFormMixin
from planblanc.directory.models import Establishment

# A 1×1 transparent GIF: the tracking image of the drill's HTML part.
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


class DrillForm(BootstrapFormMixin, forms.Form):
    template = forms.ChoiceField(label=_("Template"))
    population = forms.ChoiceField(label=_("Who receives it"), choices=drills.POPULATIONS, initial="all",
                                   widget=forms.RadioSelect)
    departments = forms.TypedMultipleChoiceField(label=_("Departments"), coerce=int, required=False,
                                                 widget=forms.CheckboxSelectMultiple)
    audiences = forms.MultipleChoiceField(label=_("Audiences"), choices=Audience.choices, required=False,
                                          widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, establishment: Establishment, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [(t.slug, t.title) for t in drills.templates()]
        self.fields["departments"].choices = list(establishment.departments.values_list("pk", "name"))
        for name in ("population", "departments", "audiences"):
            self.fields[name].widget.attrs["class"] = "form-check-input"


def _establishment_for(request: HttpRequest, pk: int) -> tuple[Establishment, frozenset[int] | None]:
    establishment = get_object_or_404(Establishment, pk=pk)
    departments = rights.awareness_departments(request.user, establishment)
    if departments is not None and not departments:
        raise Http404
    return establishment, departments


def drills_page(request: HttpRequest, establishment: Establishment, departments: frozenset[int] | None,
                form: DrillForm | None = None, status: int = 200) -> HttpResponse:
    """The establishment's drills page (also rendered by the site's launch view with a
    form in error)."""
    manager = departments is None
    if manager and form is None:
        form = DrillForm(establishment=establishment)
    rows = [(drill, drills.template_get(drill.template), drills.drill_results(drill=drill, departments=departments))
            for drill in Drill.objects.filter(establishment=establishment)[:20]]
    return render(request, "awareness/drills/list.html", {
        "establishment": establishment, "manager": manager, "form": form if manager else None,
        "drills": rows, "header": drills.drill_header(), "named": settings.AWARENESS_DRILL_NAMED_RESULTS,
        "report_address": settings.AWARENESS_DRILL_REPORT_ADDRESS, "threshold": drills.ANONYMITY_THRESHOLD,
    }, status=status)


@login_required
def drill_list(request: HttpRequest, pk: int) -> HttpResponse:
    establishment, departments = _establishment_for(request, pk)
    return drills_page(request, establishment, departments)


@login_required
def drill_detail(request: HttpRequest, pk: int) -> HttpResponse:
    drill = get_object_or_404(Drill.objects.select_related("establishment"), pk=pk)
    establishment, departments = _establishment_for(request, drill.establishment_id)
    return render(request, "awareness/drills/detail.html", {
        "establishment": establishment, "drill": drill, "template": drills.template_get(drill.template),
        "results": drills.drill_results(drill=drill, departments=departments),
        "manager": departments is None, "named": settings.AWARENESS_DRILL_NAMED_RESULTS,
        "people": drills.drill_named_results(actor=request.user, drill=drill),
        "header": drills.drill_header(), "threshold": drills.ANONYMITY_THRESHOLD,
    })


# Public pages, by the personal link of the message ----------------------------------------


def _target(token: str) -> DrillTarget:
    target = drills.target_from_token(token)
    if target is None:
        raise Http404
    return target


def _scanner(request: HttpRequest) -> bool:
    return drills.is_link_scanner(method=request.method or "", user_agent=request.headers.get("User-Agent", ""))


@never_cache
def drill_click(request: HttpRequest, token: str) -> HttpResponse:
    """The link of the message: the page looks like a sign-in form whose fields have no
    name (what is typed is never sent). Mail gateways fetch every link as it arrives, so
    opening the page records nothing: its script sends the proof back at the first sign
    of a person (drill_seen), or they press "Continue" without scripts. Submitting the
    form records the fact only (a click too), then shows the teaching page."""
    target = _target(token)
    if _scanner(request):
        drills.target_record_scan(target=target)
        if request.method == "OPTIONS":
            return HttpResponse(status=204)
        if request.method == "POST":
            return redirect("awareness:drill_lesson", token=token)
    elif request.method == "POST":
        drills.target_record(target=target, event="submit")
        return redirect("awareness:drill_lesson", token=token)
    return render(request, "awareness/drills/form.html", {
        "token": token, "proof": drills.seen_proof(target), "counted": target.clicked_at is not None,
    })


@csrf_exempt  # the signed proof, only found on the page itself, is what protects it
@never_cache
def drill_seen(request: HttpRequest, token: str) -> HttpResponse:
    """The look-alike page's proof that a person is on it: the click is recorded. From its
    script (`via=script`): 204; from the "Continue" button: back to the page."""
    target = _target(token)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not drills.seen_proof_valid(target=target, proof=request.POST.get("proof", "")):
        return HttpResponseForbidden()
    if _scanner(request):
        drills.target_record_scan(target=target)
    else:
        drills.target_record(target=target, event="click")
    if request.POST.get("via") == "script":
        return HttpResponse(status=204)
    return redirect("awareness:drill_click", token=token)


def drill_lesson(request: HttpRequest, token: str) -> HttpResponse:
    target = _target(token)
    template = drills.template_get(target.drill.template)
    return render(request, "awareness/drills/lesson.html", {
        "template": template, "module": module_get(template.module) if template else None, "token": token,
        "report_address": settings.AWARENESS_DRILL_REPORT_ADDRESS, "named": settings.AWARENESS_DRILL_NAMED_RESULTS,
    })


def drill_report(request: HttpRequest, token: str) -> HttpResponse:
    """The "signaler" link: a confirmation (a POST, so that link scanners report
    nothing), then the record."""
    target = _target(token)
    reported = request.method == "POST"
    if reported:
        drills.target_record(target=target, event="report")
    return render(request, "awareness/drills/report.html", {"token": token, "reported": reported})


@never_cache
def drill_image(request: HttpRequest, token: str) -> HttpResponse:
    """The tracking image of the HTML part: the message was opened (approximately; a
    link scanner's fetch is counted apart)."""
    target = _target(token)
    if _scanner(request):
        drills.target_record_scan(target=target)
    else:
        drills.target_record(target=target, event="open")
    return HttpResponse(PIXEL, content_type="image/gif")
