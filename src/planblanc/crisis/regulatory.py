"""The regulatory texts as data: the clocks of each notification, the health-sector
report's D1111-16-2 checklist and its reporting path, and the NIS 2 art. 23 stages per
regime (essential or important entity). Everything is read from
`crisis/data/regulatory/clocks.yaml`, which cites its sources; labels marked
unconfirmed there are edited there, not here."""

from __future__ import annotations

import calendar
import datetime
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.utils.translation import get_language

DATA_FILE = Path(__file__).parent / "data" / "regulatory" / "clocks.yaml"


@functools.cache
def regulatory_data() -> dict[str, Any]:
    return yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))


def label(entry: dict[str, Any]) -> str:
    """The entry's label in the active language (French when not English)."""
    language = (get_language() or "fr")[:2]
    return str(entry.get("en" if language == "en" else "fr") or entry.get("fr") or "")


def add_months(moment: datetime.datetime, months: int) -> datetime.datetime:
    """The same day and time `months` later, on the month's last day when it is shorter
    (31 January + 1 month = 28 or 29 February)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def initial_delays() -> dict[str, datetime.timedelta]:
    """Time allowed for the first filing of each notification, from the declaration."""
    data = regulatory_data()
    essential = data["nis2"]["regimes"][data["nis2"]["regime_of_essential_operator"]]
    return {
        "ars_cert_sante": datetime.timedelta(hours=data["health_report"]["target_hours"]),
        "cnil": datetime.timedelta(hours=data["gdpr"]["hours"]),
        "anssi": datetime.timedelta(hours=essential["early_warning_hours"]),
        "complaint": datetime.timedelta(hours=data["complaint"]["hours"]),
    }


# Health-sector report (CSP L1111-8-2, D1111-16-2) -----------------------------------------


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    significant: bool


def health_categories() -> list[Category]:
    return [Category(str(c["key"]), label(c), bool(c["significant"]))
            for c in regulatory_data()["health_report"]["categories"]]


def health_channels() -> list[tuple[str, str, str]]:
    """(key, label, url) of each reporting path, the portal first."""
    return [(c["key"], label(c), c.get("url") or "") for c in regulatory_data()["health_report"]["channels"]]


def health_stages() -> dict[str, str]:
    return {key: label(entry) for key, entry in regulatory_data()["health_report"]["stages"].items()}


@dataclass(frozen=True)
class HealthAssessment:
    """What the D1111-16-2 checklist says: `assessed` once it was filled in; `due` when
    at least one category is ticked; `significant` when item 4 or 5 is."""

    assessed: bool
    ticked: tuple[str, ...]
    due: bool
    significant: bool


def parse_categories(value: Any) -> tuple[str, ...]:
    """The ticked category keys from a stored or posted value ("1,4" or a list), in the
    data file's order; unknown keys are dropped."""
    if isinstance(value, str):
        keys = {part.strip() for part in value.split(",")}
    elif isinstance(value, list | tuple | set):
        keys = {str(part).strip() for part in value}
    else:
        keys = set()
    return tuple(c.key for c in health_categories() if c.key in keys)


def health_assessment(data: dict[str, Any] | None) -> HealthAssessment:
    data = data or {}
    if data.get("categories_assessed") != "yes":
        return HealthAssessment(False, (), True, False)
    ticked = parse_categories(data.get("categories", ""))
    significant_keys = {c.key for c in health_categories() if c.significant}
    return HealthAssessment(True, ticked, bool(ticked), any(key in significant_keys for key in ticked))


# NIS 2 art. 23 ------------------------------------------------------------------------------


def nis2_regime(*, essential_operator: bool) -> str:
    nis2 = regulatory_data()["nis2"]
    return nis2["regime_of_essential_operator"] if essential_operator else nis2["regime_otherwise"]


def nis2_regime_label(regime: str) -> str:
    return label(regulatory_data()["nis2"]["regimes"][regime])


@dataclass(frozen=True)
class Stage:
    key: str
    label: str
    due_at: datetime.datetime


def nis2_stages(
    *, regime: str, aware_at: datetime.datetime, notification_sent_at: datetime.datetime | None = None,
    ongoing: bool = False, handled_at: datetime.datetime | None = None,
) -> list[Stage]:
    """The NIS 2 art. 23 stages and their due times: early warning and incident
    notification counted from becoming aware, the final report from the incident
    notification (from its due time while it is not sent). When the incident is still
    `ongoing` at final-report time (23(4)(e)), a progress report is due then and the
    final report within a month of handling it (`handled_at`; while it is not handled,
    counted from the progress report's due time, provisionally)."""
    nis2 = regulatory_data()["nis2"]
    rules = nis2["regimes"][regime]
    labels = nis2["stages"]
    notification_due = aware_at + datetime.timedelta(hours=rules["notification_hours"])
    final_due = add_months(notification_sent_at or notification_due, rules["final_report_months"])
    stages = [
        Stage("early_warning", label(labels["early_warning"]),
              aware_at + datetime.timedelta(hours=rules["early_warning_hours"])),
        Stage("notification", label(labels["notification"]), notification_due),
    ]
    if not ongoing:
        return [*stages, Stage("final_report", label(labels["final_report"]), final_due)]
    return [
        *stages,
        Stage("progress_report", label(labels["progress_report"]), final_due),
        Stage("final_report", label(labels["final_report_after_handling"]),
              add_months(handled_at or final_due, rules["final_after_handling_months"])),
    ]


def nis2_intermediate_stage(
    *, regime: str, requested_at: datetime.datetime, due_at: datetime.datetime | None = None, key: str = "",
) -> Stage:
    """An intermediate report asked by the CSIRT or the authority (23(4)(c)): due by the
    date of the request, else the regime's target after the request."""
    nis2 = regulatory_data()["nis2"]
    days = nis2["regimes"][regime]["intermediate_report_days"]
    return Stage(key or "intermediate_report", label(nis2["stages"]["intermediate_report"]),
                 due_at or requested_at + datetime.timedelta(days=days))
