"""Lightweight pages that the installed app keeps for reading without network (the
service worker, static/planblanc/sw.js, caches them on each visit and refreshes them
whenever the network is there): for each establishment of the user, the approved
plan's reflex sheets, the crisis-cell roster with phone numbers and the contacts.

These pages hold no form, no CSRF token and no secret: only what the paper kit prints.
They say when they were made, so that a copy read offline tells its age."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.http import require_GET

from planblanc.directory.models import Establishment
from planblanc.plans.exports import KIT_LANGUAGE, kit_context, kit_meta
from planblanc.plans.models import PlanVersion
from planblanc.plans.selectors import plan_for_user, plan_latest_version
from planblanc.tenancy import user_label

OFFLINE_LIMIT = 20  # establishments kept offline per user: a national login sees a list, not every plan


def _private(response: HttpResponse) -> HttpResponse:
    # Phone numbers: never in a shared cache; the service worker keeps its own copy.
    response["Cache-Control"] = "private, no-cache"
    return response


@login_required
@require_GET
def offline_index(request: HttpRequest) -> HttpResponse:
    establishments = list(Establishment.objects.visible_to(request.user).order_by("name")[:OFFLINE_LIMIT])
    approved = dict(
        PlanVersion.objects.filter(plan__establishment__in=establishments)
        .order_by("plan__establishment_id", "number").values_list("plan__establishment_id", "number")
    )
    return _private(render(request, "plans/offline/index.html", {
        "rows": [(establishment, approved.get(establishment.pk)) for establishment in establishments],
        "made_at": timezone.localtime(),
    }))


@login_required
@require_GET
def offline_plan(request: HttpRequest, establishment_id: int) -> HttpResponse:
    plan = plan_for_user(user=request.user, establishment_id=establishment_id)
    version = plan_latest_version(plan=plan)
    context = {"plan": plan, "establishment": plan.establishment, "version": version, "made_at": timezone.localtime()}
    if version is not None:
        meta = kit_meta(plan=plan, version=version, printed_by=user_label(request.user))  # type: ignore[arg-type]
        with translation.override(KIT_LANGUAGE):
            context["kit"] = kit_context(version.snapshot, meta)
    return _private(render(request, "plans/offline/plan.html", context))
