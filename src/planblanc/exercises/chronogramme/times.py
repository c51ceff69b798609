"""Time cells of a chronogramme: "10h15", "13:30:00", "+00:45", "T+45", "12H30
(08/08/2024)", real date/time cells, and times followed by a note."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from planblanc.exercises.chronogramme.headers import normalise


@dataclass(frozen=True)
class ParsedTime:
    """What a time cell said: an offset from the start, a time of day, or a full date and time."""

    offset: datetime.timedelta | None = None
    time_of_day: datetime.time | None = None
    moment: datetime.datetime | None = None
    # Placed from the row's order (a story time with a date and no real-time column).
    by_order: bool = False


_RELATIVE = re.compile(
    r"^(?:t|h|j)?\s*([+-])\s*(?:(\d{1,3})\s*(?:h|:)\s*(\d{1,2})?(?:\s*(?::|m|min)?\s*(\d{1,2}))?|(\d{1,4})\s*(?:min|mn|m)?)$"
)
_CLOCK = re.compile(r"^(\d{1,2})\s*(?:h|:)\s*(\d{2})?(?:\s*:\s*(\d{2}))?")
_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})")


def parse_time(value: Any) -> ParsedTime | None:
    """Read a time cell. Returns None when the cell cannot be read; an empty ParsedTime
    when the cell is empty or a dash."""
    if value is None:
        return ParsedTime()
    if isinstance(value, datetime.datetime):
        if value.year < 1901:  # spreadsheets store bare times on their epoch day
            return ParsedTime(time_of_day=value.time().replace(microsecond=0))
        return ParsedTime(moment=value.replace(microsecond=0))
    if isinstance(value, datetime.time):
        return ParsedTime(time_of_day=value.replace(microsecond=0))
    if isinstance(value, datetime.timedelta):
        return ParsedTime(offset=value)
    if isinstance(value, int | float):
        if 0 <= value < 1:  # a spreadsheet time stored as a fraction of a day
            seconds = round(value * 86400)
            return ParsedTime(time_of_day=datetime.time(seconds // 3600 % 24, seconds // 60 % 60))
        return None
    text = str(value).strip().lower()
    if text in {"", "-", "—", "–", "x", "/"}:
        return ParsedTime()
    compact = text.replace(" ", "")
    match = _RELATIVE.match(compact)
    if match and (compact[0] in "+-" or compact[:2] in {"t+", "t-", "h+", "h-", "j+", "j-"}):
        sign = -1 if match.group(1) == "-" else 1
        if match.group(5) is not None:
            minutes = int(match.group(5))
            delta = datetime.timedelta(minutes=minutes)
        else:
            hours = int(match.group(2))
            minutes = int(match.group(3) or 0)
            seconds = int(match.group(4) or 0)
            delta = datetime.timedelta(hours=hours, minutes=minutes, seconds=seconds)
        if compact.startswith(("j+", "j-")) and match.group(5) is not None:
            delta = datetime.timedelta(days=int(match.group(5)))
        return ParsedTime(offset=sign * delta)
    clock = _CLOCK.match(text)
    if not clock:
        return None
    hour, minute, second = int(clock.group(1)), int(clock.group(2) or 0), int(clock.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    rest = text[clock.end():].strip()
    time_of_day = datetime.time(hour, minute, second)
    date_match = _DATE.search(rest)
    if date_match:
        day, month, year = (int(g) for g in date_match.groups())
        if year < 100:
            year += 2000
        try:
            return ParsedTime(moment=datetime.datetime.combine(datetime.date(year, month, day), time_of_day))
        except ValueError:
            return None
    if rest and not re.fullmatch(r"[()\s.]*", rest):
        return None
    return ParsedTime(time_of_day=time_of_day)


def parse_duration(value: Any) -> datetime.timedelta | None:
    """A reaction deadline: "15 min", "1h", "00:30", "+30"."""
    if value is None or str(value).strip() in {"", "-"}:
        return None
    if isinstance(value, datetime.timedelta):
        return value
    if isinstance(value, datetime.time):
        return datetime.timedelta(hours=value.hour, minutes=value.minute)
    if isinstance(value, int | float):
        return datetime.timedelta(minutes=float(value))
    text = normalise(value).replace(" ", "")
    match = re.fullmatch(r"(?:(\d+)h)?(\d+)?(?:min|mn|m)?", text)
    if match and (match.group(1) or match.group(2)):
        return datetime.timedelta(hours=int(match.group(1) or 0), minutes=int(match.group(2) or 0))
    parsed = parse_time("+" + str(value).strip().lstrip("+"))
    if parsed and parsed.offset is not None:
        return parsed.offset
    raise ValueError(str(value))


def parse_time_with_note(value: Any) -> tuple[ParsedTime | None, str]:
    """A time cell that goes on with a note ("14H25\nDifférence à prévoir avec le
    chrono préfecture"): the time, and the note for the comment."""
    parsed = parse_time(value)
    if parsed is not None or not isinstance(value, str):
        return parsed, ""
    text = value.strip()
    head, _newline, tail = text.partition("\n")
    if tail and (first := parse_time(head)) is not None and first != ParsedTime():
        return first, tail.strip()
    clock = _CLOCK.match(text.lower())
    if clock and clock.group(2) is not None:
        first = parse_time(text[: clock.end()])
        if first is not None and first != ParsedTime():
            return first, text[clock.end():].strip(" \n-–—:;,")
    return None, ""
