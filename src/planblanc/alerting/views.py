"""Alerting pages, thin over services and selectors.

The acknowledgement page is public: the signed link is the credential, and a POST
button (not the GET) records it, so that mail scanners that open every link do not
acknowledge for the person."""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from planblanc.alerting import selectors, services
from planblanc.alerting.forms import CampaignForm
from planblanc.alerting.models import Acknowledgement
from planblanc.core.forms import run_service
from planblanc.tenancy import Perm, has_perm_somewhere


def _may_send_somewhere(user: object) -> bool:
    return has_perm_somewhere(user, Perm.MANAGE_PEOPLE)


@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.campaign_list(user=request.user), 30).get_page(request.GET.get("page"))
    return render(request, "alerting/campaign_list.html", {
        "page": page, "may_send": _may_send_somewhere(request.user), "outbox": selectors.outbox_status(),
    })


@login_required
@require_http_methods(["GET", "POST"])
def campaign_new(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        establishment = data["establishment"]
        people = selectors.people_of_establishment(establishment=establishment)
        campaign = run_service(form, lambda: services.campaign_create(
            actor=request.user, establishment=establishment, title=data["title"], message_fr=data["message_fr"],
            message_en=data["message_en"], channels=data["channels"], is_exercise=data["is_exercise"],
            recipients=services.recipients_from_people(people, establishment_name=establishment.name),
        ))
        if campaign is not None:
            return redirect("alerting:campaign_detail", pk=campaign.pk)
    return render(request, "alerting/campaign_new.html", {"form": form})


@login_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.get_campaign_for_user(user=request.user, campaign_id=pk)
    return render(request, "alerting/campaign_detail.html", {
        "campaign": campaign, **_progress_context(campaign),
    })


@login_required
def campaign_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The live part of the campaign page, polled every 2 seconds."""
    campaign = selectors.get_campaign_for_user(user=request.user, campaign_id=pk)
    return render(request, "alerting/_progress.html", {"campaign": campaign, **_progress_context(campaign)})


def _progress_context(campaign: object) -> dict[str, object]:
    return {
        "progress": selectors.campaign_progress(campaign=campaign),  # type: ignore[arg-type]
        "not_reached": selectors.not_reached(campaign=campaign)[:200],  # type: ignore[arg-type]
    }


@login_required
def campaign_export(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.get_campaign_for_user(user=request.user, campaign_id=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="campagne-{campaign.pk}-{stamp}.csv"'
    response.write("\ufeff")  # so that spreadsheet software reads UTF-8
    writer = csv.writer(response, delimiter=";")
    writer.writerow([
        "recipient", "channel", "step", "address", "status", "provider", "attempts", "reason", "last_error",
        "created_at", "sent_at", "delivered_at", "failed_at", "acknowledged_at", "message_id",
    ])
    for d in selectors.deliveries_for_export(campaign=campaign).iterator(chunk_size=2000):
        writer.writerow([
            d.recipient.name, d.channel, d.step, d.address, d.status, d.provider, d.attempts, d.reason,
            d.last_error[:300], *(
                timezone.localtime(t).isoformat() if t else ""
                for t in (d.created_at, d.sent_at, d.delivered_at, d.failed_at, d.acknowledged_at)
            ), d.message_id,
        ])
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def acknowledge(request: HttpRequest, token: str) -> HttpResponse:
    try:
        delivery = services.ack_link_verify(token)
    except services.AckLinkExpired:
        return render(request, "alerting/ack.html", {"state": "expired"}, status=410)
    except services.AckLinkInvalid:
        return render(request, "alerting/ack.html", {"state": "invalid"}, status=400)
    if request.method == "POST":
        ack = services.acknowledgement_record(delivery=delivery)
        return render(request, "alerting/ack.html", {"state": "done", "delivery": delivery, "ack": ack})
    ack = Acknowledgement.objects.filter(recipient_id=delivery.recipient_id).first()
    return render(request, "alerting/ack.html", {
        "state": "done" if ack else "ask", "delivery": delivery, "ack": ack,
    })
