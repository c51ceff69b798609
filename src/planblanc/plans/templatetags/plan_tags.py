"""The white plan's card on the establishment page (plans/_plan_card.html)."""

from __future__ import annotations

from typing import Any

from django import template

from planblanc import rights
from planblanc.plans import selectors
from planblanc.plans.models import Plan

register = template.Library()


@register.inclusion_tag("plans/_plan_card.html", takes_context=True)
def plan_card(context: Any, establishment: Any) -> dict[str, Any]:
    """Completeness score and the top gaps; the establishment is already in the reader's scope."""
    request = context.get("request")
    user = getattr(request, "user", None)
    plan = Plan.objects.filter(establishment=establishment).select_related("establishment").first()
    if plan is None:
        return {"card": {
            "plan": None, "establishment": establishment,
            "may_edit": user is not None and rights.may_edit_plan(user, Plan(establishment=establishment)),
        }, "csrf_token": context.get("csrf_token")}
    report = selectors.plan_gaps(plan=plan)
    return {"card": {
        "plan": plan, "establishment": establishment, "report": report, "top_gaps": report.by_severity()[:5],
        "latest": selectors.plan_latest_version(plan=plan),
    }}


@register.simple_tag(takes_context=True)
def plan_menu_url(context: Any) -> str:
    """The menu's "Plan": the plan of the user's only establishment, or the list of plans."""
    from django.urls import reverse

    from planblanc.directory.models import Establishment

    request = context.get("request")
    user = getattr(request, "user", None)
    ids = list(Establishment.objects.visible_to(user).values_list("pk", flat=True)[:2])
    if len(ids) == 1:
        return reverse("plans:overview", args=[ids[0]])
    return reverse("plans:list")
