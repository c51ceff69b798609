"""What the observatory shows and to whom: the filters, the buckets' edges, the
anonymity threshold."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import (
    QuerySet,
)
from django.utils import timezone

from planblanc.directory.models import Establishment
from planblanc.tenancy import Perm, scope_for

# Cells counting fewer establishments than this are suppressed in the anonymised export.
ANONYMITY_THRESHOLD = 5
SUPPRESSED = "<5"

MATURITY_BUCKETS: list[tuple[str, Decimal | None, Decimal | None]] = [
    ("0-20", None, Decimal(20)), ("20-40", Decimal(20), Decimal(40)), ("40-60", Decimal(40), Decimal(60)),
    ("60-80", Decimal(60), Decimal(80)), ("80-100", Decimal(80), None),
]
BUDGET_BUCKETS: list[tuple[str, Decimal | None, Decimal | None]] = [
    ("<2", None, Decimal(2)), ("2-5", Decimal(2), Decimal(5)), ("5-10", Decimal(5), Decimal(10)),
    (">=10", Decimal(10), None),
]
COMPLETENESS_BUCKETS: list[tuple[str, int | None, int | None]] = [
    ("0-25", None, 25), ("25-50", 25, 50), ("50-75", 50, 75), ("75-100", 75, None),
]
NONE = "none"
UNKNOWN = "unknown"


# Access and filters ------------------------------------------------------------------


def observatory_is_national(*, user: Any) -> bool:
    return scope_for(user, Perm.VIEW_DIRECTORY).national


def exercise_target() -> tuple[int, datetime.date]:
    """The national target: this share (percent) of priority establishments exercised by
    the deadline (settings OBSERVATORY_EXERCISE_TARGET_PERCENT and _DEADLINE)."""
    percent = int(getattr(settings, "OBSERVATORY_EXERCISE_TARGET_PERCENT", 100))
    deadline = getattr(settings, "OBSERVATORY_EXERCISE_TARGET_DEADLINE", "2027-12-31")
    if isinstance(deadline, str):
        deadline = datetime.date.fromisoformat(deadline)
    return percent, deadline


@dataclass(frozen=True)
class Filters:
    start: datetime.date
    end: datetime.date
    category: str = ""
    region_id: int | None = None
    referential_slug: str = ""

    @classmethod
    def default(cls, *, today: datetime.date | None = None, **kwargs: Any) -> Filters:
        today = today or timezone.localdate()
        return cls(start=datetime.date(today.year, 1, 1), end=datetime.date(today.year, 12, 31), **kwargs)

    def as_params(self) -> dict[str, str]:
        params = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.category:
            params["category"] = self.category
        if self.region_id:
            params["region"] = str(self.region_id)
        if self.referential_slug:
            params["referential"] = self.referential_slug
        return params

    @property
    def start_dt(self) -> datetime.datetime:
        return datetime.datetime.combine(self.start, datetime.time.min, tzinfo=timezone.get_current_timezone())

    @property
    def end_dt(self) -> datetime.datetime:
        """Exclusive upper bound: the day after `end`, at midnight."""
        return datetime.datetime.combine(
            self.end + datetime.timedelta(days=1), datetime.time.min, tzinfo=timezone.get_current_timezone()
        )


def observatory_establishments(*, user: Any, filters: Filters) -> QuerySet[Establishment]:
    """The establishments behind every figure: the viewer's scope, then the filters."""
    establishments = Establishment.objects.visible_to(user, Perm.VIEW_DIRECTORY)
    if filters.region_id:
        establishments = establishments.filter(region_id=filters.region_id)
    if filters.category:
        establishments = establishments.filter(category=filters.category)
    return establishments.order_by()


def in_scope(queryset: QuerySet[Any], establishments: QuerySet[Establishment], path: str = "establishment"
              ) -> QuerySet[Any]:
    """Restrict rows to the establishments in view; the whole country needs no filter
    (an IN over 45,000 ids would only slow the national view down)."""
    if not establishments.query.where:
        return queryset
    return queryset.filter(**{f"{path}__in": establishments.values("pk")})
