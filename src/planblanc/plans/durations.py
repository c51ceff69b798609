"""Durations as people write them in continuity plans: "4 h", "30 min", "2 j", "1h30",
"1 semaine", "72 heures", "PT4H" (ISO 8601) or "04:00"."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.dateparse import parse_duration
from django.utils.translation import gettext as _

UNITS = {
    "s": 1, "sec": 1, "seconde": 1, "secondes": 1, "second": 1, "seconds": 1,
    "m": 60, "mn": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "heure": 3600, "heures": 3600, "hour": 3600, "hours": 3600,
    "j": 86400, "jr": 86400, "jrs": 86400, "jour": 86400, "jours": 86400, "d": 86400, "day": 86400, "days": 86400,
    "sem": 604800, "semaine": 604800, "semaines": 604800, "w": 604800, "week": 604800, "weeks": 604800,
}
_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*([a-zà-ÿ]+)?")


def duration_parse(raw: Any) -> datetime.timedelta:
    """Return a timedelta or raise ValidationError with examples of what is accepted."""
    if isinstance(raw, datetime.timedelta):
        return raw
    text = str(raw or "").strip().lower()
    error = ValidationError(
        _("“%(value)s” is not a duration. Examples: 30 min, 4 h, 1 h 30, 2 d, 1 week.") % {"value": raw},
        code="duration_invalid",
    )
    if not text:
        raise error
    iso = parse_duration(text.upper()) if text.startswith("p") else None
    clock = re.fullmatch(r"(\d{1,3}):(\d{2})", text)
    if iso is None and clock:
        # "04:00" in a continuity plan means four hours, not four minutes.
        iso = datetime.timedelta(hours=int(clock.group(1)), minutes=int(clock.group(2)))
    if iso is not None:
        return iso
    compact = text.replace(" et ", " ").replace(" and ", " ")
    total = 0.0
    position = 0
    last_unit = None
    for match in _PART.finditer(compact):
        if compact[position:match.start()].strip():
            raise error
        number = float(match.group(1).replace(",", "."))
        unit = match.group(2)
        if unit is None:
            # "1h30": a bare number after hours means minutes.
            if last_unit == 3600:
                unit_seconds = 60
            else:
                raise error
        elif unit in UNITS:
            unit_seconds = UNITS[unit]
        else:
            raise error
        total += number * unit_seconds
        last_unit = unit_seconds
        position = match.end()
    if compact[position:].strip() or position == 0:
        raise error
    return datetime.timedelta(seconds=round(total))


def duration_display(value: datetime.timedelta | None) -> str:
    """4 h · 1 h 30 · 2 j · 45 min — short, for tables and paper."""
    if value is None:
        return ""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(_("%(n)d d") % {"n": days})
    if hours:
        parts.append(_("%(n)d h") % {"n": hours})
    if minutes:
        parts.append(_("%(n)d min") % {"n": minutes} if not (hours and not days) else f"{minutes:02d}")
    return " ".join(parts) or _("0 min")


class DurationInput(forms.TextInput):
    def format_value(self, value: Any) -> Any:
        if isinstance(value, datetime.timedelta):
            return duration_display(value)
        return value


class HumanDurationFormField(forms.Field):
    widget = DurationInput

    def to_python(self, value: Any) -> datetime.timedelta | None:
        if value in (None, ""):
            return None
        return duration_parse(value)


class HumanDurationField(models.DurationField):
    """A DurationField whose form accepts "4 h", "2 j", "1h30"…"""

    def formfield(self, **kwargs: Any) -> Any:
        kwargs.setdefault("form_class", HumanDurationFormField)
        return super().formfield(**kwargs)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and re.search(r"[a-zà-ÿ:]", value.lower()) and not value.upper().startswith("P"):
            return duration_parse(value)
        return super().to_python(value)
