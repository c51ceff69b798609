"""Pages of the crisis console's second part, thin over crisis/notifications.py,
iocs.py, communication.py and report.py: regulatory notifications, indicators of
compromise, communication, lessons learned. Every lookup goes through tenancy (404
outside the scope); writes are POST forms that come back with a message."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from planblanc import rights
from planblanc.crisis import communication, iocs, notifications, regulatory, report, selectors
from planblanc.crisis.models import (
    CommunicationDraft,
    Crisis,
    ImprovementAction,
    Indicator,
    IndicatorKind,
    NotificationKind,
    Tlp,
)


def _crisis(request: HttpRequest, crisis_id: int) -> Crisis:
    return selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)


def _kind(kind: str) -> str:
    if kind not in NotificationKind.values:
        raise Http404
    return kind


def _attempt(request: HttpRequest, call: Callable[[], Any], done: str = "") -> bool:
    try:
        call()
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return False
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You are not allowed to make this change."))
        return False
    if done:
        messages.success(request, done)
    return True


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# Notifications ------------------------------------------------------------------------------


@login_required
@require_GET
def notification_list(request: HttpRequest, crisis_id: int) -> HttpResponse:
    crisis = _crisis(request, crisis_id)
    return render(request, "crisis/notifications/list.html", {
        "crisis": crisis, "clocks": notifications.notification_clocks(crisis=crisis),
        "may_run": rights.may_run_crisis(request.user, crisis) and crisis.is_active,
    })


@login_required
@require_http_methods(["GET", "POST"])
def notification_form(request: HttpRequest, crisis_id: int, kind: str) -> HttpResponse:
    crisis = _crisis(request, crisis_id)
    kind = _kind(kind)
    if request.method == "POST":
        if "complement" in request.POST:
            requested = parse_datetime(request.POST.get("requested_due", "") or "")
            if requested is not None and timezone.is_naive(requested):
                requested = timezone.make_aware(requested)
            _attempt(request, lambda: notifications.notification_complement(
                actor=request.user, crisis=crisis, kind=kind, stage=request.POST.get("stage", "follow_up"),
                requested_due=requested), _("Complementary filing opened."))
        else:
            _attempt(request, lambda: notifications.notification_save(
                actor=request.user, crisis=crisis, kind=kind, data=request.POST.dict()), _("Notification saved."))
        return redirect("crisis:notification_form", crisis_id=crisis.pk, kind=kind)
    data = notifications.notification_form_data(crisis=crisis, kind=kind, actor=request.user)
    clock = next(c for c in notifications.notification_clocks(crisis=crisis) if c.kind == kind)
    saved = clock.notification.data if clock.notification is not None else {}
    health = regulatory.health_assessment(saved)
    return render(request, "crisis/notifications/form.html", {
        "crisis": crisis, "clock": clock, "kind": kind, "health": health,
        "categories": [(c, c.key in health.ticked) for c in regulatory.health_categories()],
        "channels": regulatory.health_channels(), "channel": saved.get("channel") or "portal",
        "stages": regulatory.health_stages(), "closed": saved.get("stage") == "end_of_incident",
        "multi_filing": kind in notifications.MULTI_FILING,
        "fields": [(name, label, multi, data.get(name, ""))
                   for name, (label, multi) in notifications.FIELDS[NotificationKind(kind)].items()],
        "may_run": rights.may_run_crisis(request.user, crisis) and crisis.is_active,
    })


@login_required
@require_POST
def notification_sent(request: HttpRequest, crisis_id: int, kind: str) -> HttpResponse:
    crisis = _crisis(request, crisis_id)
    kind = _kind(kind)
    _attempt(request, lambda: notifications.notification_mark_sent(
        actor=request.user, crisis=crisis, kind=kind, reference=request.POST.get("reference", "")),
        _("Notification marked sent."))
    return redirect("crisis:notification_form", crisis_id=crisis.pk, kind=kind)


@login_required
@require_GET
def notification_export(request: HttpRequest, crisis_id: int, kind: str, fmt: str) -> HttpResponse:
    crisis = _crisis(request, crisis_id)
    kind = _kind(kind)
    if fmt not in notifications.EXPORT_TYPES:
        raise Http404
    return _download(*notifications.notification_export(actor=request.user, crisis=crisis, kind=kind, fmt=fmt))


# Indicators of compromise -----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def indicator_list(request: HttpRequest, crisis_id: int) -> HttpResponse:
    crisis = _crisis(request, crisis_id)
    if request.method == "POST":
        post = request.POST
        _attempt(request, lambda: iocs.indicator_create(
            actor=request.user, crisis=crisis, kind=post.get("kind", ""), value=post.get("value", ""),
            tlp=post.get("tlp", ""), description=post.get("description", "")), _("Indicator recorded."))
        return redirect("crisis:indicator_list", crisis_id=crisis.pk)
    return render(request, "crisis/iocs/list.html", {
        "crisis": crisis, "indicators": iocs.indicators_of(crisis=crisis),
        "kinds": IndicatorKind.choices, "tlps": Tlp.choices,
        "may_run": rights.may_run_crisis(request.user, crisis) and crisis.is_active,
    })


@login_required
@require_POST
def indicator_delete(request: HttpRequest, crisis_id: int, indicator_id: int) -> HttpResponse:
    crisis = _crisis(request, crisis_id)
    indicator = get_object_or_404(Indicator.objects.filter(crisis=crisis), pk=indicator_id)
    _attempt(request, lambda: iocs.indicator_delete(actor=request.user, indicator=indicator),
             _("Indicator withdrawn."))
    return redirect("crisis:indicator_list", crisis_id=crisis.pk)


@login_required
@require_GET
def indicator_export(request: HttpRequest, crisis_id: int, fmt: str) -> HttpResponse:
    crisis = _crisis(request, crisis_id)
    if fmt not in iocs.IOC_EXPORTS:
        raise Http404
    return _download(*iocs.indicators_export(actor=request.user, crisis=crisis, fmt=fmt))


# Communication ----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def communication_list(request: HttpRequest, crisis_id: int) -> HttpResponse:
    crisis = _crisis(request, crisis_id)
    if request.method == "POST":
        post = request.POST
        _attempt(request, lambda: communication.communication_draft(
            actor=request.user, crisis=crisis, template_key=post.get("template_key", ""),
            values={"instructions": post.get("instructions", ""), "contact": post.get("contact", "")}),
            _("Draft written: check it, then have it approved."))
        return redirect("crisis:communication_list", crisis_id=crisis.pk)
    return render(request, "crisis/communication/list.html", {
        "crisis": crisis, "drafts": communication.communications_of(crisis=crisis),
        "templates": communication.communication_templates(),
        "people": communication.communication_people(crisis=crisis),
        "may_run": rights.may_run_crisis(request.user, crisis) and crisis.is_active,
        "may_approve": rights.may_approve_communication(request.user, crisis),
    })


@login_required
@require_POST
def communication_action(request: HttpRequest, crisis_id: int, draft_id: int, action: str) -> HttpResponse:
    crisis = _crisis(request, crisis_id)
    draft = get_object_or_404(CommunicationDraft.objects.filter(crisis=crisis), pk=draft_id)
    post = request.POST
    if action == "approve":
        _attempt(request, lambda: communication.communication_approve(actor=request.user, draft=draft),
                 _("Message approved."))
    elif action == "edit":
        _attempt(request, lambda: communication.communication_edit(
            actor=request.user, draft=draft, title=post.get("title", ""), message_fr=post.get("message_fr", ""),
            message_en=post.get("message_en", "")), _("Message changed: it needs approval again."))
    elif action == "send":
        ids = [int(v) for v in post.getlist("people") if v.isdigit()]
        people = list(communication.communication_people(crisis=crisis).filter(pk__in=ids))
        _attempt(request, lambda: communication.communication_send(
            actor=request.user, draft=draft, people=people, channels=tuple(post.getlist("channels")) or ("email",)),
            _("Message sent through the alerting engine."))
    else:
        raise Http404
    return redirect("crisis:communication_list", crisis_id=crisis.pk)


# Lessons learned --------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def report_page(request: HttpRequest, crisis_id: int) -> HttpResponse:
    crisis = _crisis(request, crisis_id)
    if request.method == "POST":
        post = request.POST
        try:
            due = datetime.date.fromisoformat(post.get("due_date", ""))
        except ValueError:
            due = None
        owner = None
        if post.get("owner", "").isdigit():
            owner = communication.communication_people(crisis=crisis).filter(pk=int(post["owner"])).first()
        _attempt(request, lambda: report.improvement_action_create(
            actor=request.user, crisis=crisis, title=post.get("title", ""), due_date=due, owner=owner,
            owner_label=post.get("owner_label", "")), _("Improvement action recorded."))
        return redirect("crisis:report", crisis_id=crisis.pk)
    return render(request, "crisis/report/page.html", {
        **report.report_context(crisis=crisis), "people": communication.communication_people(crisis=crisis),
        "may_run": rights.may_run_crisis(request.user, crisis), "today": timezone.localdate(),
    })


@login_required
@require_POST
def improvement_status(request: HttpRequest, crisis_id: int, action_id: int) -> HttpResponse:
    crisis = _crisis(request, crisis_id)
    action = get_object_or_404(ImprovementAction.objects.filter(crisis=crisis), pk=action_id)
    _attempt(request, lambda: report.improvement_action_set_status(
        actor=request.user, action=action, status=request.POST.get("status", "")))
    return redirect("crisis:report", crisis_id=crisis.pk)


@login_required
@require_GET
def report_export(request: HttpRequest, crisis_id: int) -> HttpResponse:
    crisis = _crisis(request, crisis_id)
    content = report.report_pdf(actor=request.user, crisis=crisis)
    return _download(content, "application/pdf", f"retex-crise-{crisis.pk}.pdf")
