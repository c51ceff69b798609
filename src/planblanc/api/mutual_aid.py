"""Mutual-aid endpoints over the same services, selectors and tenancy as the pages:
the catalogue, help requests and their offers (with their EDXL-RM messages), situation
reports and the regional board. Outside the scope: 404; bad input: 422."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Router, Schema

from planblanc.mutual_aid import edxl, selectors, services, tasks
from planblanc.mutual_aid.models import AidOffer, HelpRequest

router = Router(tags=["mutual aid"])


class ResourceOut(Schema):
    id: int
    kind: str
    name: str
    quantity: int
    owner: str
    location: str
    contact: str
    contact_phone: str
    delay: str
    cost: str
    agreement: str


class OfferOut(Schema):
    id: int
    offered_by: str
    what: str
    quantity: int
    conditions: str
    status: str
    message_id: str


class RequestOut(Schema):
    id: int
    requester: str
    addressed_to: str
    kind: str
    what: str
    quantity: int
    urgency: str
    deliver_to: str
    needed_until: datetime.datetime | None
    status: str
    created_at: datetime.datetime
    escalation_level: int
    message_id: str
    offers: list[OfferOut]


class RequestIn(Schema):
    target_kind: str
    target_establishment_id: int | None = None
    kind: str
    what: str
    quantity: int
    urgency: str
    deliver_to: str
    needed_until: datetime.datetime | None = None
    details: str = ""


class OfferIn(Schema):
    level: str
    what: str = ""
    quantity: int
    conditions: str = ""
    arrives_at: datetime.datetime | None = None


class ReportIn(Schema):
    ed_status: str
    beds_deprogrammed: int = 0
    surgeries_deprogrammed: int = 0
    lab_on_paper: bool = False
    imaging_on_paper: bool = False
    patients_transferred: int = 0
    needs: str = ""
    next_report_at: datetime.datetime


def _offer(offer: AidOffer) -> dict[str, Any]:
    return {"id": offer.pk, "offered_by": offer.offerer_label, "what": offer.what, "quantity": offer.quantity,
            "conditions": offer.conditions, "status": offer.status, "message_id": offer.message_id}


def _request(request: HelpRequest) -> dict[str, Any]:
    return {
        "id": request.pk, "requester": request.requester.name, "addressed_to": request.target_label,
        "kind": request.kind, "what": request.what, "quantity": request.quantity, "urgency": request.urgency,
        "deliver_to": request.deliver_to, "needed_until": request.needed_until, "status": request.status,
        "created_at": request.created_at, "escalation_level": request.escalation_level,
        "message_id": request.message_id, "offers": [_offer(o) for o in request.offers.all()],
    }


def _as_404(call: Any) -> Any:
    try:
        return call()
    except PermissionDenied:
        raise Http404 from None


@router.get("/resources", response=list[ResourceOut])
def resource_list(request: HttpRequest, kind: str = "") -> list[dict[str, Any]]:
    return [{"id": r.pk, "kind": r.kind, "name": r.name, "quantity": r.quantity, "owner": r.owner_label,
             "location": r.location, "contact": r.contact, "contact_phone": r.contact_phone, "delay": r.delay,
             "cost": r.cost, "agreement": r.agreement}
            for r in selectors.resource_list(user=request.user, kind=kind)[:1000]]


@router.get("/requests", response=list[RequestOut])
def request_list(request: HttpRequest, status: str = "open") -> list[dict[str, Any]]:
    rows = selectors.request_list(user=request.user, status=status).prefetch_related("offers")[:500]
    return [_request(r) for r in rows]


@router.get("/requests/{request_id}", response=RequestOut)
def request_detail(request: HttpRequest, request_id: int) -> dict[str, Any]:
    return _request(selectors.request_for_user(user=request.user, pk=request_id))


@router.post("/crises/{crisis_id}/requests", response={201: RequestOut})
def request_create(request: HttpRequest, crisis_id: int, payload: RequestIn) -> tuple[int, dict[str, Any]]:
    crisis = selectors.crisis_for_requester(user=request.user, pk=crisis_id)
    data = payload.dict()
    if payload.target_establishment_id:
        data["target_establishment"] = selectors.Establishment.objects.visible_to(request.user).filter(
            pk=payload.target_establishment_id).first()
    made = _as_404(lambda: services.help_request_create(
        actor=request.user, requester=crisis.establishment, crisis=crisis, data=data))
    tasks.wake_escalation(run_after=made.answer_due_at)
    return 201, _request(made)


@router.post("/requests/{request_id}/offers", response={201: OfferOut})
def offer_create(request: HttpRequest, request_id: int, payload: OfferIn) -> tuple[int, dict[str, Any]]:
    help_request = selectors.request_for_user(user=request.user, pk=request_id)
    made = _as_404(lambda: services.aid_offer_create(actor=request.user, request=help_request, level=payload.level,
                                                     data=payload.dict()))
    return 201, _offer(made)


@router.post("/offers/{offer_id}/{action}", response=OfferOut)
def offer_action(request: HttpRequest, offer_id: int, action: str) -> dict[str, Any]:
    offer = selectors.offer_for_user(user=request.user, pk=offer_id)
    step = services.offer_step(action)
    if step is None:
        raise Http404
    return _offer(_as_404(lambda: step(actor=request.user, offer=offer)))


@router.get("/requests/{request_id}/edxl-rm", include_in_schema=True)
def request_edxl(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request = selectors.request_for_user(user=request.user, pk=request_id)
    return HttpResponse(edxl.request_to_xml(help_request), content_type="application/xml; charset=utf-8")


@router.post("/crises/{crisis_id}/situation-reports", response={201: dict})
def report_create(request: HttpRequest, crisis_id: int, payload: ReportIn) -> tuple[int, dict[str, Any]]:
    crisis = selectors.crisis_for_requester(user=request.user, pk=crisis_id)
    report = _as_404(lambda: services.situation_report_create(actor=request.user, crisis=crisis,
                                                              data=payload.dict()))
    return 201, {"id": report.pk, "at": report.at.isoformat(), "next_report_at": report.next_report_at.isoformat()}


@router.get("/regional-crises/{regional_id}/board")
def regional_board(request: HttpRequest, regional_id: int) -> dict[str, Any]:
    regional = selectors.regional_crisis_for_user(user=request.user, pk=regional_id)
    board = selectors.regional_board(regional=regional)
    return {
        "id": regional.pk, "title": regional.title, "region": regional.region.name,
        "is_exercise": regional.is_exercise, "late_reports": board.late_reports, "unanswered": board.unanswered,
        "establishments": [{
            "establishment": row.establishment.name, "finess": row.establishment.finess, "crisis_id": row.crisis.pk,
            "last_report_at": row.report.at.isoformat() if row.report else None,
            "ed_status": row.report.ed_status if row.report else None, "report_late": row.late,
            "open_requests": row.open_requests, "oldest_request_minutes": row.oldest_age_minutes,
            "notifications_sent": row.notifications_sent, "notifications_required": row.notifications_required,
            "notifications_overdue": row.notifications_overdue,
        } for row in board.rows],
    }
