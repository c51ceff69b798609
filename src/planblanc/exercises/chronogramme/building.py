"""Building injects from a sheet's rows: phase and marker rows, one inject per
stimulus row with its errors, times placed from the start, numbers and dependencies."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc.exercises.chronogramme.headers import (
    FIELDS,
    cell_text,
    find_header,
    guess_mapping,
    is_fuzzy_header,
    normalise,
    parse_channel,
    parse_dependencies,
    parse_kind,
    parse_number,
    parse_state,
)
from planblanc.exercises.chronogramme.parsed import (
    Chronogramme,
    ChronogrammeFileError,
    ParsedInject,
    ParsedMarker,
    ParsedReaction,
    RowProblem,
)
from planblanc.exercises.chronogramme.times import (
    ParsedTime,
    parse_duration,
    parse_time,
    parse_time_with_note,
)

# Marker rows of a timeline, not phases: start and end of the exercise, pauses.
_MARKER = re.compile(
    r"^(debex|finex|star?tex|endex|(debut|fin) (d |de l |de )?exercice|pause|reprise|dejeuner)\b")


def is_marker(text: str) -> bool:
    return bool(_MARKER.match(normalise(text)))


_MARKER_KINDS = [
    (re.compile(r"^(debex|star?tex|debut)"), "start"),
    (re.compile(r"^(finex|endex|fin)"), "end"),
    (re.compile(r"^(pause|dejeuner)"), "pause"),
    (re.compile(r"^reprise"), "resume"),
]
# A time written inside a marker's text: "DEBEX PREFECTURE 9H00".
_TIME_IN_TEXT = re.compile(r"(?i)\b(\d{1,2})\s*[h:]\s*(\d{2})?\b")

# A story time with a date and no real-time column: placed this long after the row above.
ORDER_STEP = datetime.timedelta(minutes=5)


def marker_kind(text: str) -> str:
    folded = normalise(text)
    return next((kind for pattern, kind in _MARKER_KINDS if pattern.match(folded)), "other")


def _marker_time(time_cell: Any, text: str) -> ParsedTime:
    parsed = parse_time(time_cell) if cell_text(time_cell) else None
    if parsed is not None and parsed != ParsedTime():
        return parsed
    found = _TIME_IN_TEXT.search(text)
    if found and int(found.group(1)) < 24 and int(found.group(2) or 0) < 60:
        return ParsedTime(time_of_day=datetime.time(int(found.group(1)), int(found.group(2) or 0)))
    return ParsedTime()


def _story_text(value: Any) -> str:
    """A story time as the file shows it ("12H30 (08/08/2024)"), without a trailing note."""
    if isinstance(value, datetime.datetime):
        return value.strftime("%Hh%M (%d/%m/%Y)")
    if isinstance(value, datetime.time):
        return value.strftime("%Hh%M")
    return cell_text(value).split("\n")[0].strip()[:60]


def _split_reactions(text: str) -> list[str]:
    """Kits write expected reactions as a dash list inside one cell."""
    if not text:
        return []
    lines = [line.strip() for line in text.splitlines()]
    items: list[str] = []
    for line in lines:
        if not line:
            continue
        if re.match(r"^[-•*▪–]\s*", line):
            items.append(re.sub(r"^[-•*▪–]\s*", "", line))
        elif items:
            items[-1] += " " + line
        else:
            items.append(line)
    return [item for item in items if item]


# Our export writes each reaction's own deadline and grid area after it: "… [15 min, decision]".
_REACTION_TAIL = re.compile(r"\s*\[\s*(?:(\d+)\s*min)?\s*[,;]?\s*([a-z_]+)?\s*\]\s*$")


def _reaction_from_text(text: str, *, deadline: datetime.timedelta | None, cell: str) -> ParsedReaction:
    from planblanc.exercises.models import CriterionArea

    match = _REACTION_TAIL.search(text)
    area = ""
    if match and (match.group(1) or match.group(2) in CriterionArea.values):
        text = text[: match.start()].strip()
        if match.group(1):
            deadline = datetime.timedelta(minutes=int(match.group(1)))
        area = match.group(2) or ""
    return ParsedReaction(description=text, deadline=deadline, cell=cell, criterion_area=area)


def reaction_to_text(reaction: Any) -> str:
    tail = []
    if reaction.deadline is not None:
        tail.append(f"{int(reaction.deadline.total_seconds()) // 60} min")
    if reaction.criterion is not None:
        tail.append(reaction.criterion.area)
    return f"- {reaction.description}" + (f" [{', '.join(tail)}]" if tail else "")


def parse_rows(
    rows: list[tuple[Any, ...]],
    *,
    sheet: str,
    mapping: dict[int, str] | None = None,
    header_index: int | None = None,
    start: datetime.datetime | None = None,
    used_numbers: set[int] | None = None,
) -> Chronogramme:
    """Read the rows of one sheet. `mapping` (column index → field) overrides the guess;
    `start` anchors times of day (else the earliest time of day in the file is T+0)."""
    result = Chronogramme(sheet=sheet)
    if header_index is None:
        header_index, score = find_header(rows)
        if score < 2 and mapping is not None:
            # Headers we do not know: the user mapped the columns; the header is the first
            # row with several filled cells.
            header_index = next((i for i, row in enumerate(rows) if sum(1 for v in row if cell_text(v)) >= 2), 0)
        elif score < 2:
            raise ChronogrammeFileError(
                _("No header row found in sheet “%(sheet)s”: name the columns (N°, Heure, Canal, Stimulus…).")
                % {"sheet": sheet}
            )
    headers = [cell_text(v) for v in rows[header_index]] if rows else []
    result.header_row = header_index + 1
    result.headers = headers
    result.mapping = dict(mapping) if mapping is not None else guess_mapping(headers)
    columns = {name: index for index, name in result.mapping.items()}
    if mapping is None:
        result.fuzzy_headers = [(headers[index], str(FIELDS[name])) for index, name in sorted(result.mapping.items())
                                if index < len(headers) and is_fuzzy_header(headers[index])]
    if "content" not in columns and "subject" not in columns:
        result.errors.append(
            RowProblem(f"{sheet}!{header_index + 1}", _("No column holds the stimulus (content or subject)."))
        )
        return result

    def get(row: tuple[Any, ...], name: str) -> Any:
        index = columns.get(name)
        if index is None or index >= len(row):
            return None
        return row[index]

    phase = ""
    raw: list[tuple[ParsedInject, ParsedTime]] = []
    markers: list[tuple[ParsedMarker, ParsedTime]] = []
    previous_time: ParsedTime = ParsedTime()
    for index in range(header_index + 1, len(rows)):
        row = rows[index]
        where = f"{sheet}!{index + 1}"
        filled = [(i, v) for i, v in enumerate(row) if cell_text(v)]
        if not filled:
            continue
        # A phase row: one filled cell, text, not a stimulus ("TANGO 1 (remontée…)").
        texts = [(i, v) for i, v in filled if isinstance(v, str) and i != columns.get("time")]
        if len(texts) == 1 and is_marker(cell_text(texts[0][1])):
            label = cell_text(texts[0][1])[:200]
            time_cell = get(row, "real_time") if cell_text(get(row, "real_time")) else get(row, "time")
            markers.append((ParsedMarker(where, label, marker_kind(label), position=len(raw)),
                            _marker_time(time_cell, label)))
            continue
        if len(filled) == 1 and not isinstance(filled[0][1], datetime.time | datetime.datetime):
            text = cell_text(filled[0][1])
            if columns.get("content") != filled[0][0] or re.match(r"(?i)^(tango|phase|partie|s[ée]quence|temps)\b", text):
                phase = text
                continue
        inject = ParsedInject(where=where)
        row_errors: list[str] = []
        number = parse_number(get(row, "number"))
        if isinstance(number, str):
            row_errors.append(_("“%(value)s” is not an inject number.") % {"value": number})
        elif number is not None and number >= 0:
            inject.source_number = number
        inject.phase = cell_text(get(row, "phase")) or phase
        inject.sender = cell_text(get(row, "sender"))[:200]
        inject.target_cell = cell_text(get(row, "target_cell"))[:200]
        inject.target_role = cell_text(get(row, "target_role"))[:200]
        inject.subject = cell_text(get(row, "subject"))[:300]
        inject.content = cell_text(get(row, "content"))
        attachments = cell_text(get(row, "attachments"))
        inject.attachments = [] if attachments in {"", "-", "x"} else [attachments]
        inject.comment = cell_text(get(row, "comment"))
        inject.deliverable = cell_text(get(row, "deliverable"))[:300]
        if not (inject.content or inject.subject):
            result.warnings.append(RowProblem(where, _("Row without a stimulus: skipped.")))
            continue
        channel_cell = get(row, "channel")
        if cell_text(channel_cell):
            channel = parse_channel(channel_cell)
            if channel is None:
                row_errors.append(
                    _("Unknown channel “%(value)s” (email, SMS, voice, phone call, oral, press article, social media).")
                    % {"value": cell_text(channel_cell)}
                )
            else:
                inject.channel = channel
        kind_cell = get(row, "kind")
        if cell_text(kind_cell):
            kind = parse_kind(kind_cell)
            if kind is None:
                row_errors.append(
                    _("Unknown inject kind “%(value)s” (structuring, saturating, background noise).")
                    % {"value": cell_text(kind_cell)}
                )
            else:
                inject.kind = kind
        if cell_text(get(row, "real_time")):
            # The time column tells the story; the real-time column is the schedule.
            inject.story_time = _story_text(get(row, "time")) if cell_text(get(row, "time")) not in {"", "-"} else ""
            parsed_time, note = parse_time_with_note(get(row, "real_time"))
        else:
            parsed_time, note = parse_time_with_note(get(row, "time"))
            if parsed_time is not None and parsed_time.moment is not None:
                # A story time with a date: shown as written, scheduled from the row's order.
                inject.story_time = _story_text(get(row, "time"))
                parsed_time = ParsedTime(by_order=True)
                result.warnings.append(RowProblem(where, _(
                    "Story time “%(time)s” is shown to players; the inject is scheduled after the row above.")
                    % {"time": inject.story_time}))
        if note:
            inject.comment = f"{note}\n{inject.comment}".strip()
        state_cell = get(row, "state")
        excluded = parse_state(state_cell)
        if excluded is None:
            row_errors.append(_("State “%(value)s” cannot be read (✅ or ❌, exclu, annulé).") % {
                "value": cell_text(state_cell)})
        else:
            inject.excluded = excluded
        if parsed_time is None:
            row_errors.append(
                _("Time “%(value)s” cannot be read (write 10h15, 13:30, +00:45 or T+45).")
                % {"value": cell_text(get(row, "time"))}
            )
            parsed_time = ParsedTime()
        elif parsed_time == ParsedTime():
            parsed_time = previous_time  # "-": at the same time as the row above
        else:
            previous_time = parsed_time
        dependencies = parse_dependencies(get(row, "dependencies"))
        if dependencies is None:
            row_errors.append(
                _("“%(value)s” is not a list of inject numbers.") % {"value": cell_text(get(row, "dependencies"))}
            )
        else:
            inject.dependencies = dependencies
        deadline = None
        try:
            deadline = parse_duration(get(row, "deadline"))
        except ValueError:
            row_errors.append(
                _("Deadline “%(value)s” cannot be read (write 15 min or 1h30).") % {"value": cell_text(get(row, "deadline"))}
            )
        inject.expected_reactions = [
            _reaction_from_text(text, deadline=deadline, cell=inject.target_cell[:200])
            for text in _split_reactions(cell_text(get(row, "expected_reactions")))
        ]
        if row_errors:
            result.errors.extend(RowProblem(where, message) for message in row_errors)
            result.bad_rows.add(where)
        raw.append((inject, parsed_time))
    _place_in_time(raw, markers, start)
    result.injects = [inject for inject, _time in raw]
    result.markers = [marker for marker, _time in markers]
    number_injects(result, used_numbers or set())
    check_dependencies(result)
    return result


def _place_in_time(
    raw: list[tuple[ParsedInject, ParsedTime]],
    markers: list[tuple[ParsedMarker, ParsedTime]],
    start: datetime.datetime | None,
) -> None:
    """Offsets from the exercise start. Times of day count from the start's time of day,
    or, without a start, from the earliest time of day of the injects and start markers
    (DEBEX is T+0). A story time with a date follows the row above by ORDER_STEP. A
    marker without a time sits at the time of the inject before it."""
    times_of_day = [t.time_of_day for _i, t in raw if t.time_of_day is not None]
    times_of_day += [t.time_of_day for m, t in markers if t.time_of_day is not None and m.kind == "start"]
    day = datetime.date(2000, 1, 1)
    if start is not None:
        local_start = timezone.localtime(start) if timezone.is_aware(start) else start
        anchor = datetime.datetime.combine(day, local_start.time().replace(microsecond=0))
    elif times_of_day:
        anchor = datetime.datetime.combine(day, min(times_of_day))
    else:
        anchor = None

    def offset_of(parsed: ParsedTime) -> datetime.timedelta | None:
        if parsed.offset is not None:
            return parsed.offset
        if parsed.time_of_day is not None and anchor is not None:
            return datetime.datetime.combine(day, parsed.time_of_day) - anchor
        return None

    last: datetime.timedelta | None = None
    for inject, parsed in raw:
        if parsed.by_order:
            inject.offset = (last if last is not None else datetime.timedelta(0)) + ORDER_STEP
        else:
            inject.offset = offset_of(parsed)
        if inject.offset is None and parsed.moment is not None:
            moment = parsed.moment
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
            inject.scheduled_at = moment
        if inject.offset is not None:
            last = inject.offset
    for marker, parsed in markers:
        marker.offset = offset_of(parsed)
        if marker.offset is None and raw:
            before = [i.offset for i, _t in raw[: marker.position] if i.offset is not None]
            after = [i.offset for i, _t in raw[marker.position:] if i.offset is not None]
            marker.offset = before[-1] if before else (after[0] if after else None)


def number_injects(result: Chronogramme, used: set[int]) -> None:
    """Keep the file's numbers; "-", repeated numbers or numbers already in the exercise
    get the next free number (said in a warning)."""
    used = set(used)
    next_free = max(used | {i.source_number or 0 for i in result.injects} | {0}) + 1
    for inject in result.injects:
        if inject.source_number is not None and inject.source_number not in used:
            inject.number = inject.source_number
        else:
            inject.number = next_free
            next_free += 1
            if inject.source_number is not None:
                result.warnings.append(
                    RowProblem(
                        inject.where,
                        _("Number %(old)d is already used: this inject becomes number %(new)d.")
                        % {"old": inject.source_number, "new": inject.number},
                    )
                )
        used.add(inject.number)


def check_dependencies(result: Chronogramme) -> None:
    """Dependencies name injects by their number in the file; a missing one or a cycle is
    an error on the row."""
    by_source: dict[int, ParsedInject] = {}
    for inject in result.injects:
        key = inject.source_number if inject.source_number is not None else inject.number
        by_source.setdefault(key, inject)
    for inject in result.injects:
        for number in inject.dependencies:
            if number not in by_source:
                result.errors.append(
                    RowProblem(inject.where, _("Depends on inject %(number)d, which does not exist.") % {"number": number})
                )
                result.bad_rows.add(inject.where)
    graph = {
        inject.number: [by_source[n].number for n in inject.dependencies if n in by_source]
        for inject in result.injects
    }
    cycle = find_cycle(graph)
    if cycle:
        where = next(i.where for i in result.injects if i.number == cycle[0])
        result.errors.append(
            RowProblem(
                where,
                _("Dependencies form a cycle: %(cycle)s.") % {"cycle": " → ".join(str(n) for n in cycle)},
            )
        )
        for inject in result.injects:
            if inject.number in cycle:
                result.bad_rows.add(inject.where)


def find_cycle(graph: dict[int, list[int]]) -> list[int] | None:
    """A cycle in "inject → the injects it waits for", as [a, b, …, a], or None."""
    state: dict[int, int] = {}  # 1: on the path, 2: done
    path: list[int] = []

    def visit(node: int) -> list[int] | None:
        state[node] = 1
        path.append(node)
        for target in graph.get(node, []):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if state.get(target) is None:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None
