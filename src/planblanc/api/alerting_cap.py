"""CAP 1.2 endpoints over alerting/cap.py: a regional campaign as CAP XML, and a CAP
message received (raw XML body) — checked and described, or started with
`?start=true`. A schema failure is a 422 listing the schema errors; nothing is
created unless everything is valid and in the caller's scope."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Router, Schema, Status

from planblanc.alerting import cap, selectors

router = Router(tags=["alerting"])


class CapDraftOut(Schema):
    started: bool
    campaign_id: int | None = None
    identifier: str
    sender: str
    is_exercise: bool
    title: str
    message_fr: str
    message_en: str
    region_id: int
    establishment_ids: list[int]
    recipients: int


@router.get("/campaigns/{campaign_id}/cap", response={200: None})
def campaign_cap(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.get_campaign_for_user(user=request.user, campaign_id=campaign_id)
    try:
        content = cap.cap_export(campaign)
    except ValidationError as exc:
        raise Http404 from exc
    return HttpResponse(content, content_type="application/cap+xml; charset=utf-8")


@router.post("/cap", response={200: CapDraftOut, 201: CapDraftOut})
def cap_receive(request: HttpRequest, start: bool = False) -> Any:
    """Body: the CAP 1.2 message (XML). Without `start`, only checks it and says what
    it would send."""
    draft = cap.cap_parse(request.body)
    cap.cap_scope(actor=request.user, draft=draft)
    out = {
        "identifier": draft.identifier, "sender": draft.sender, "is_exercise": draft.is_exercise,
        "title": draft.title, "message_fr": draft.message_fr, "message_en": draft.message_en,
        "region_id": draft.region.pk, "establishment_ids": [e.pk for e in draft.establishments],
        "recipients": len(draft.people()),
    }
    if not start:
        return {"started": False, **out}
    campaign = cap.cap_receive(actor=request.user, xml=request.body)
    return Status(201, {"started": True, "campaign_id": campaign.pk, **out})
