"""Alerting pages. The acknowledgement page is public: the signed link is the
credential, and a POST button (not the GET) records it, so that mail scanners that
open every link do not acknowledge for the person."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from planblanc.alerting.models import Acknowledgement
from planblanc.alerting.services import (
    AckLinkExpired,
    AckLinkInvalid,
    ack_link_verify,
    acknowledgement_record,
)


@never_cache
@require_http_methods(["GET", "POST"])
def acknowledge(request: HttpRequest, token: str) -> HttpResponse:
    try:
        delivery = ack_link_verify(token)
    except AckLinkExpired:
        return render(request, "alerting/ack.html", {"state": "expired"}, status=410)
    except AckLinkInvalid:
        return render(request, "alerting/ack.html", {"state": "invalid"}, status=400)
    if request.method == "POST":
        ack = acknowledgement_record(delivery=delivery)
        return render(request, "alerting/ack.html", {"state": "done", "delivery": delivery, "ack": ack})
    ack = Acknowledgement.objects.filter(recipient_id=delivery.recipient_id).first()
    return render(request, "alerting/ack.html", {
        "state": "done" if ack else "ask", "delivery": delivery, "ack": ack,
    })
