"""Reads of mutual aid, always through the tenancy managers. The regional board reads
in a fixed number of queries, whatever the number of establishments, requests and
reports (bench/region.py measures it)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, Min, OuterRef, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from planblanc.crisis.models import Crisis, CrisisStatus
from planblanc.directory.models import Establishment
from planblanc.mutual_aid.models import (
    OPEN_REQUEST_STATUSES,
    AidAlert,
    AidOffer,
    HelpRequest,
    RegionalCrisis,
    RegionalLink,
    Resource,
    SituationReport,
)
from planblanc.tenancy import Perm, get_for_user

BOARD_REQUESTS_SHOWN = 200


def resource_list(*, user: Any, kind: str = "", search: str = "") -> QuerySet[Resource]:
    rows = Resource.objects.visible_to(user).select_related("region", "group", "establishment")
    if kind:
        rows = rows.filter(kind=kind)
    if search:
        rows = rows.filter(name__icontains=search[:100])
    return rows


def request_list(*, user: Any, status: str = "open") -> QuerySet[HelpRequest]:
    rows = HelpRequest.objects.visible_to(user).select_related(
        "requester", "target_group", "target_region", "target_establishment")
    if status == "open":
        rows = rows.filter(status__in=OPEN_REQUEST_STATUSES)
    return rows.annotate(offer_count=Count("offers"))


def request_for_user(*, user: Any, pk: int) -> HelpRequest:
    return get_for_user(user, HelpRequest.objects.select_related(
        "requester__group", "requester__region", "target_group", "target_region", "target_establishment", "crisis",
    ), pk=pk)


def offer_for_user(*, user: Any, pk: int) -> AidOffer:
    return get_for_user(user, AidOffer.objects.select_related("request__requester", "offerer_establishment",
                                                              "offerer_group", "offerer_region"), pk=pk)


def crisis_for_requester(*, user: Any, pk: int) -> Crisis:
    """An establishment crisis the user sees (for the request and report forms)."""
    return get_for_user(user, Crisis.objects.filter(establishment__isnull=False).select_related("establishment"),
                        pk=pk)


def reports_of(*, crisis: Crisis, limit: int = 50) -> list[SituationReport]:
    return list(SituationReport.objects.filter(crisis=crisis).order_by("-at")[:limit])


def report_is_late(report: SituationReport | None, crisis: Crisis, *, every_hours: int = 4,
                   now: datetime.datetime | None = None) -> bool:
    """Late: the announced next report time is past, or no report at all `every_hours`
    after the declaration."""
    now = now or timezone.now()
    if report is None:
        return crisis.status == CrisisStatus.ACTIVE and now > crisis.declared_at + datetime.timedelta(hours=every_hours)
    return crisis.status == CrisisStatus.ACTIVE and now > report.next_report_at


def regional_crisis_list(*, user: Any) -> QuerySet[RegionalCrisis]:
    return RegionalCrisis.objects.visible_to(user, Perm.VIEW_DIRECTORY).select_related("region", "crisis")


def regional_crisis_for_user(*, user: Any, pk: int) -> RegionalCrisis:
    return get_for_user(user, RegionalCrisis.objects.select_related("region", "crisis"), pk=pk)


def may_run_regional(*, user: Any, regional: RegionalCrisis) -> bool:
    from planblanc.rights import may_run_regional_cell

    return may_run_regional_cell(user, regional.region_id)


@dataclass
class BoardRow:
    establishment: Establishment
    crisis: Crisis
    report: SituationReport | None
    late: bool
    open_requests: int
    oldest_request_at: datetime.datetime | None
    notifications_required: int = 0
    notifications_sent: int = 0
    notifications_overdue: int = 0
    alerts_sent: int = 0
    alerts_failed: int = 0

    @property
    def oldest_age_minutes(self) -> int | None:
        if self.oldest_request_at is None:
            return None
        return int((timezone.now() - self.oldest_request_at).total_seconds() // 60)


@dataclass
class Board:
    regional: RegionalCrisis
    rows: list[BoardRow]
    requests: list[HelpRequest]
    alerts: list[AidAlert]
    late_reports: int = 0
    unanswered: int = 0
    candidates: list[Crisis] = field(default_factory=list)


def regional_board(*, regional: RegionalCrisis, now: datetime.datetime | None = None) -> Board:
    """Every linked establishment with its last situation report (late or not), its open
    requests and the age of the oldest, its regulatory notifications (sent, late) and
    the mutual-aid alerts sent for it; the open requests of the region; the crises of
    the region not linked yet. A fixed number of queries."""
    from planblanc.crisis.notifications import notification_summaries

    now = now or timezone.now()
    last_report = SituationReport.objects.filter(crisis=OuterRef("crisis_id")).order_by("-at", "-id").values("id")[:1]
    links = list(
        RegionalLink.objects.filter(regional_crisis=regional)
        .select_related("crisis__establishment")
        .annotate(last_report_id=Subquery(last_report))
        .order_by("crisis__establishment__name")
    )
    report_ids = [link.last_report_id for link in links if link.last_report_id]
    reports = {report.pk: report for report in SituationReport.objects.filter(pk__in=report_ids)}
    establishment_ids = [link.crisis.establishment_id for link in links]
    open_requests = {
        row["requester_id"]: row for row in HelpRequest.objects.filter(
            requester_id__in=establishment_ids, status__in=OPEN_REQUEST_STATUSES,
        ).values("requester_id").annotate(count=Count("id"), oldest=Min("created_at"))
    }
    alert_counts: dict[int, dict[str, int]] = {}
    for row in AidAlert.objects.filter(request__requester_id__in=establishment_ids).values(
            "request__requester_id", "problem"):
        counts = alert_counts.setdefault(row["request__requester_id"], {"sent": 0, "failed": 0})
        counts["failed" if row["problem"] else "sent"] += 1
    summaries = notification_summaries(crises=[link.crisis for link in links], now=now)
    rows = []
    for link in links:
        crisis = link.crisis
        report = reports.get(link.last_report_id) if link.last_report_id else None
        requests = open_requests.get(crisis.establishment_id, {})
        summary = summaries.get(crisis.pk)
        counts = alert_counts.get(crisis.establishment_id, {})
        rows.append(BoardRow(
            establishment=crisis.establishment, crisis=crisis, report=report,
            late=report_is_late(report, crisis, every_hours=regional.report_every_hours, now=now),
            open_requests=requests.get("count", 0), oldest_request_at=requests.get("oldest"),
            notifications_required=summary.required if summary else 0,
            notifications_sent=summary.sent if summary else 0,
            notifications_overdue=summary.overdue if summary else 0,
            alerts_sent=counts.get("sent", 0), alerts_failed=counts.get("failed", 0),
        ))
    request_rows = list(
        HelpRequest.objects.filter(region=regional.region, status__in=OPEN_REQUEST_STATUSES,
                                   is_exercise=regional.is_exercise)
        .select_related("requester", "target_group", "target_region", "target_establishment")
        .annotate(offer_count=Count("offers"))
        .order_by("created_at")[:BOARD_REQUESTS_SHOWN]
    )
    alerts = list(AidAlert.objects.filter(region=regional.region).select_related("request__requester")
                  .order_by("-sent_at")[:20])
    linked = RegionalLink.objects.filter(regional_crisis=regional, crisis=OuterRef("pk"))
    candidates = list(
        Crisis.objects.filter(establishment__region=regional.region, status=CrisisStatus.ACTIVE,
                              is_exercise=regional.is_exercise)
        .annotate(is_linked=Exists(linked)).filter(is_linked=False).select_related("establishment")
        .order_by("establishment__name")[:100]
    )
    return Board(
        regional=regional, rows=rows, requests=request_rows, alerts=alerts,
        late_reports=sum(row.late for row in rows),
        unanswered=sum(1 for r in request_rows if r.first_offer_at is None and (r.escalation_level or r.escalation_exhausted)),
        candidates=candidates,
    )


def active_crisis_of(establishment: Establishment) -> Crisis | None:
    return Crisis.objects.filter(establishment=establishment, status=CrisisStatus.ACTIVE).order_by(
        "-declared_at").first()


def get_or_404(queryset: QuerySet, **lookup: Any) -> Any:
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc
