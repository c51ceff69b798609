"""Crisis endpoints of the second part: regulatory notifications (list with clocks, mark
sent, JSON export) and indicators of compromise (CRUD, STIX 2.1 and MISP exports), over
crisis/notifications.py and crisis/iocs.py. Outside the scope: 404; read-only: 403; bad
input: 422."""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status

from planblanc.api.types import InputDateTime
from planblanc.crisis import iocs, notifications, selectors
from planblanc.crisis.models import Indicator, NotificationKind

router = Router(tags=["crisis"])


class ClockOut(Schema):
    kind: str
    label: str
    required: bool
    reason: str
    due_at: datetime.datetime
    overdue: bool
    seconds_left: int
    filing: int | None
    sent_at: datetime.datetime | None
    reference: str


class SentIn(Schema):
    reference: str = ""
    sent_at: InputDateTime | None = None


class IndicatorIn(Schema):
    kind: str
    value: str
    tlp: str = "amber"
    description: str = ""


class IndicatorOut(Schema):
    id: int
    uuid: str
    kind: str
    value: str
    hash_algorithm: str
    tlp: str
    description: str
    created_at: datetime.datetime


def _clock_out(clock: notifications.Clock) -> dict[str, Any]:
    first = clock.filings[0] if clock.filings else None
    return {
        "kind": clock.kind, "label": clock.label, "required": clock.required, "reason": clock.reason,
        "due_at": clock.due_at, "overdue": clock.overdue, "seconds_left": clock.seconds_left,
        "filing": clock.notification.filing if clock.notification else None,
        "sent_at": clock.sent_at, "reference": first.reference if first else "",
    }


def _indicator_out(row: Indicator) -> dict[str, Any]:
    return {"id": row.pk, "uuid": str(row.uuid), "kind": row.kind, "value": row.value,
            "hash_algorithm": row.hash_algorithm, "tlp": row.tlp, "description": row.description,
            "created_at": row.created_at}


def _kind(kind: str) -> str:
    if kind not in NotificationKind.values:
        raise Http404
    return kind


@router.get("/{crisis_id}/notifications", response=list[ClockOut])
def notification_list(request: HttpRequest, crisis_id: int) -> list[dict[str, Any]]:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    return [_clock_out(c) for c in notifications.notification_clocks(crisis=crisis)]


@router.post("/{crisis_id}/notifications/{kind}/sent", response=ClockOut)
def notification_sent(request: HttpRequest, crisis_id: int, kind: str, payload: SentIn) -> dict[str, Any]:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    notifications.notification_mark_sent(actor=request.user, crisis=crisis, kind=_kind(kind),
                                         reference=payload.reference, sent_at=payload.sent_at)
    return _clock_out(next(c for c in notifications.notification_clocks(crisis=crisis) if c.kind == kind))


@router.get("/{crisis_id}/notifications/{kind}/export", response=dict)
def notification_export(request: HttpRequest, crisis_id: int, kind: str) -> dict[str, Any]:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    content, _type, _name = notifications.notification_export(actor=request.user, crisis=crisis,
                                                                kind=_kind(kind), fmt="json")
    document: dict[str, Any] = json.loads(content)
    return document


@router.get("/{crisis_id}/iocs", response=list[IndicatorOut])
def indicator_list(request: HttpRequest, crisis_id: int) -> list[dict[str, Any]]:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    return [_indicator_out(row) for row in iocs.indicators_of(crisis=crisis)]


@router.post("/{crisis_id}/iocs", response={201: IndicatorOut})
def indicator_create(request: HttpRequest, crisis_id: int, payload: IndicatorIn) -> Status:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    row = iocs.indicator_create(actor=request.user, crisis=crisis, kind=payload.kind, value=payload.value,
                                tlp=payload.tlp, description=payload.description)
    return Status(201, _indicator_out(row))


def _indicator(request: HttpRequest, crisis_id: int, indicator_id: int) -> Indicator:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    return get_object_or_404(Indicator.objects.filter(crisis=crisis).select_related("crisis"), pk=indicator_id)


@router.get("/{crisis_id}/iocs/{indicator_id}", response=IndicatorOut)
def indicator_read(request: HttpRequest, crisis_id: int, indicator_id: int) -> dict[str, Any]:
    return _indicator_out(_indicator(request, crisis_id, indicator_id))


@router.put("/{crisis_id}/iocs/{indicator_id}", response=IndicatorOut)
def indicator_update(request: HttpRequest, crisis_id: int, indicator_id: int, payload: IndicatorIn) -> dict[str, Any]:
    row = _indicator(request, crisis_id, indicator_id)
    row = iocs.indicator_update(actor=request.user, indicator=row, kind=payload.kind, value=payload.value,
                                tlp=payload.tlp, description=payload.description)
    return _indicator_out(row)


@router.delete("/{crisis_id}/iocs/{indicator_id}", response={204: None})
def indicator_delete(request: HttpRequest, crisis_id: int, indicator_id: int) -> Status:
    iocs.indicator_delete(actor=request.user, indicator=_indicator(request, crisis_id, indicator_id))
    return Status(204, None)


@router.get("/{crisis_id}/iocs/export/{fmt}")
def indicator_export(request: HttpRequest, crisis_id: int, fmt: str) -> HttpResponse:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    if fmt not in iocs.IOC_EXPORTS:
        raise Http404
    content, content_type, _name = iocs.indicators_export(actor=request.user, crisis=crisis, fmt=fmt)
    return HttpResponse(content, content_type=content_type)
