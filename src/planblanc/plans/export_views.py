"""The paper kit (PDF), the offline bundle (ZIP) and their history. Thin: the kit is
rendered and the export recorded by `exports.plan_kit_export`.

A download is a read of the plan: like any audited read it leaves a trace (a PlanExport
row and an audit entry), so it is a plain link (GET, `?version=N`); a form may POST the
same fields. Responses are never cached: they carry personal phone numbers."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from planblanc.plans.exports import (
    OFFLINE_BUNDLE,
    PAPER_KIT,
    kit_version,
    plan_exports,
    plan_kit_export,
)
from planblanc.plans.selectors import plan_for_user, plan_versions
from planblanc.tenancy import user_label


def _export(request: HttpRequest, establishment_id: int, kind: str) -> HttpResponse:
    plan = plan_for_user(user=request.user, establishment_id=establishment_id)
    try:
        version = kit_version(plan=plan, number=request.GET.get("version") or request.POST.get("version"))
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("plans:exports", establishment_id=establishment_id)
    exported = plan_kit_export(
        actor=request.user, plan=plan, version=version, kind=kind, printed_by=user_label(request.user),  # type: ignore[arg-type]
    )
    response = HttpResponse(exported.content, content_type=exported.content_type)
    response["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
    # Personal phone numbers: no copy in a shared cache.
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def paper_kit(request: HttpRequest, establishment_id: int) -> HttpResponse:
    """The paper kit (PDF) of the draft, or of approved version `version`."""
    return _export(request, establishment_id, PAPER_KIT)


@login_required
@require_http_methods(["GET", "POST"])
def offline_bundle(request: HttpRequest, establishment_id: int) -> HttpResponse:
    """The offline bundle (ZIP of static pages plus the PDF) of the draft or of a version."""
    return _export(request, establishment_id, OFFLINE_BUNDLE)


@login_required
def exports(request: HttpRequest, establishment_id: int) -> HttpResponse:
    """Who printed or exported which version of the plan, and when."""
    plan = plan_for_user(user=request.user, establishment_id=establishment_id)
    page = Paginator(plan_exports(plan), 50).get_page(request.GET.get("page"))
    return render(request, "plans/exports.html", {
        "plan": plan, "establishment": plan.establishment, "page": page,
        "versions": plan_versions(plan=plan),
    })
