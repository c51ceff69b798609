"""Chronogramme (timeline of injects) import and export.

Import reads the spreadsheets French exercise kits use. Real ones are messy: title rows
above the header, phase rows ("TANGO 1 …") between injects, numbers such as "-",
times such as "10h15", "13:30:00", "12H30 (08/08/2024)", "+00:45", "T+45" or real
date/time cells, several sheets. Reading never writes: it returns a `Chronogramme`
(injects read, and every row it could not read with its place "sheet!row"); the
service `chronogramme_import` saves it, all or nothing, or only the good rows when the
user asks for that.

The JSON format is documented in data/chronogramme-format.md (format_version 1).
"""

from __future__ import annotations

import datetime
import difflib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import openpyxl
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from planblanc.core import tabular
from planblanc.exercises.models import Channel, Exercise, InjectKind

FORMAT_VERSION = 1

# The fields a column can be mapped to, in the order of the exported layout.
FIELDS: dict[str, Any] = {
    "number": gettext_lazy("Number"),
    "time": gettext_lazy("Time"),
    "phase": gettext_lazy("Phase"),
    "channel": gettext_lazy("Channel"),
    "sender": gettext_lazy("Simulated sender"),
    "target_cell": gettext_lazy("Target cell"),
    "target_role": gettext_lazy("Target role"),
    "subject": gettext_lazy("Subject"),
    "content": gettext_lazy("Content (stimulus)"),
    "attachments": gettext_lazy("Attachments"),
    "expected_reactions": gettext_lazy("Expected reactions"),
    "deadline": gettext_lazy("Reaction deadline"),
    "kind": gettext_lazy("Kind"),
    "dependencies": gettext_lazy("Send only after"),
    "comment": gettext_lazy("Comment for animators"),
    "deliverable": gettext_lazy("Deliverable"),
    "state": gettext_lazy("State (✅ kept, ❌ excluded)"),
}

# Exported header of each field (the usual French kit layout).
EXPORT_HEADERS = {
    "number": "N°",
    "time": "Heure",
    "phase": "Phase",
    "channel": "Canal",
    "sender": "Émetteur",
    "target_cell": "Cellule destinataire",
    "target_role": "Destinataire au sein de la cellule",
    "subject": "Objet",
    "content": "Stimulus",
    "attachments": "Pièces jointes",
    "expected_reactions": "Réactions attendues",
    "deadline": "Délai de réaction",
    "kind": "Type d'inject",
    "dependencies": "Après l'inject",
    "comment": "Commentaire",
    "deliverable": "Livrable",
    "state": "Etat",
}

# Header recognition, most specific first; a header is compared once accents, case and
# punctuation are gone. Each field takes the first column that matches it.
_HEADER_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("target_role", re.compile(r"^(destinataire au sein|role( destinataire)?$|fonction destinataire)")),
    ("attachments", re.compile(r"^(input|pieces? jointes?|pj$|annexes?|supports?$)")),
    ("expected_reactions", re.compile(r"^reactions? attendues?")),
    ("deadline", re.compile(r"^(delai|echeance)")),
    ("dependencies", re.compile(r"^(apres l inject|apres|depend|prerequis)")),
    ("number", re.compile(r"^(n|no|num|numero|n inject|id|inject|#)$|^(numero|n) (d )?(inject|stimul)")),
    ("time", re.compile(r"^(heure|horaire|h$|temps|time|t$|moment|date|frequence)")),
    ("phase", re.compile(r"^(phase|sequence|tango|etape)")),
    ("channel", re.compile(r"^(canal|vecteur|modalite|moyen|media|channel)")),
    ("sender", re.compile(r"^(emetteur|emeteur|expediteur|de$|from|source)")),
    ("target_cell", re.compile(r"^(cellule|destinataire|recepteur|a$|to|cible)")),
    ("subject", re.compile(r"^(objet|resume|titre|sujet|intitule)")),
    ("content", re.compile(r"^(stimul|contenu|message|descriptif|description|texte)")),
    ("kind", re.compile(r"^(type d inject|type de stimul|type d evenement|nature d|kind$|categorie)")),
    ("state", re.compile(r"^(etat|statut|state|status|actif|retenu)")),
    ("comment", re.compile(r"^(commentaire|remarque|note|consigne)")),
    ("deliverable", re.compile(r"^(livrable|production)")),
]

# Channel words found in kits, by the earliest word found in the cell.
_CHANNEL_WORDS: list[tuple[str, str]] = [
    ("sms", "sms"),
    ("texto", "sms"),
    ("message vocal", "voice"),
    ("vocal", "voice"),
    ("messagerie vocale", "voice"),
    ("voice", "voice"),
    ("appel", "phone_call"),
    ("telephon", "phone_call"),
    ("phone", "phone_call"),
    ("mail", "email"),
    ("courriel", "email"),
    ("oral", "oral"),
    ("en personne", "oral"),
    ("physique", "oral"),
    ("article", "press_article"),
    ("presse", "press_article"),
    ("journal", "press_article"),
    ("reseau social", "social_post"),
    ("reseaux sociaux", "social_post"),
    ("tweet", "social_post"),
    ("twitter", "social_post"),
    ("linkedin", "social_post"),
    ("facebook", "social_post"),
    ("post", "social_post"),
]

_KIND_WORDS: list[tuple[str, str]] = [
    ("structur", "structuring"),
    ("satur", "saturating"),
    ("bruit", "noise"),
    ("parasit", "noise"),
    ("noise", "noise"),
]


def normalise(text: Any) -> str:
    """Lower case, no accents, punctuation as spaces: "N °" → "n", "Réactions" → "reactions"."""
    value = unicodedata.normalize("NFKD", str(text or ""))
    value = "".join(c for c in value if not unicodedata.combining(c)).lower()
    value = re.sub(r"[^a-z0-9#+]+", " ", value)
    return value.strip()


# Header words as kits write them, for misspelled headers ("Stmulis", "Canl"): the
# closest word at or above FUZZY_CUTOFF (difflib's ratio) names the field.
_HEADER_WORDS: dict[str, str] = {
    "stimulus": "content", "stimuli": "content", "contenu": "content", "message": "content",
    "heure": "time", "horaire": "time", "canal": "channel", "vecteur": "channel",
    "emetteur": "sender", "expediteur": "sender", "destinataire": "target_cell", "cellule": "target_cell",
    "objet": "subject", "intitule": "subject", "commentaire": "comment", "remarque": "comment",
    "phase": "phase", "sequence": "phase", "reactions": "expected_reactions", "attendues": "expected_reactions",
    "etat": "state", "statut": "state", "numero": "number", "livrable": "deliverable",
}
FUZZY_CUTOFF = 0.8


def guess_field(header: Any) -> str | None:
    text = normalise(header)
    if not text:
        return None
    for name, pattern in _HEADER_RULES:
        if pattern.search(text):
            return name
    first = text.split()[0]
    if len(first) >= 4:
        close = difflib.get_close_matches(first, list(_HEADER_WORDS), n=1, cutoff=FUZZY_CUTOFF)
        if close:
            return _HEADER_WORDS[close[0]]
    return None


def is_fuzzy_header(header: Any) -> bool:
    """The header was recognised only by its closeness to a known word (said in the
    mapping step so that the user checks it)."""
    text = normalise(header)
    return bool(text) and not any(p.search(text) for _n, p in _HEADER_RULES) and guess_field(header) is not None


# State cells: a row the file itself marks out of play.
_EXCLUDED_STATE = re.compile(r"(❌|✗|✘|\bexclu|\bannul|\bsupprim|\bnon retenu|\bnon\b|\bko\b|\bno\b)")
_INCLUDED_STATE = re.compile(r"(✅|✔|☑|\boui\b|\bok\b|\bretenu|\bactif|\bvalid)")


def parse_state(value: Any) -> bool | None:
    """True when a state cell excludes the row, False when it keeps it, None when it
    cannot be read."""
    raw = str(value or "").strip()
    if not raw or raw in {"-", "—"}:
        return False
    text = raw.lower()
    folded = normalise(raw)
    if _EXCLUDED_STATE.search(text) or _EXCLUDED_STATE.search(folded):
        return True
    if _INCLUDED_STATE.search(text) or _INCLUDED_STATE.search(folded):
        return False
    return None


# Marker rows of a timeline, not phases: start and end of the exercise, pauses.
_MARKER = re.compile(
    r"^(debex|finex|star?tex|endex|(debut|fin) (d |de l |de )?exercice|pause|reprise|dejeuner)\b")


def is_marker(text: str) -> bool:
    return bool(_MARKER.match(normalise(text)))


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


def guess_mapping(headers: list[Any]) -> dict[int, str]:
    """Column index → field, each field given to the first column that matches it."""
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        name = guess_field(header)
        if name and name not in taken:
            mapping[index] = name
            taken.add(name)
    return mapping


def parse_channel(value: Any) -> str | None:
    """The channel named in a cell, None when none is recognised (empty cells: email)."""
    text = normalise(value)
    if text in Channel.values:
        return text
    if text.replace(" ", "_") in Channel.values:
        return text.replace(" ", "_")
    best: tuple[int, str] | None = None
    for word, channel in _CHANNEL_WORDS:
        position = text.find(word)
        if position >= 0 and (best is None or position < best[0]):
            best = (position, channel)
    return best[1] if best else None


def parse_kind(value: Any) -> str | None:
    text = normalise(value)
    if text in InjectKind.values:
        return text
    for word, kind in _KIND_WORDS:
        if word in text:
            return kind
    return None


@dataclass(frozen=True)
class ParsedTime:
    """What a time cell said: an offset from the start, a time of day, or a full date and time."""

    offset: datetime.timedelta | None = None
    time_of_day: datetime.time | None = None
    moment: datetime.datetime | None = None


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


@dataclass
class ParsedReaction:
    description: str
    deadline: datetime.timedelta | None = None
    cell: str = ""
    criterion_area: str = ""


@dataclass
class ParsedInject:
    """One inject as read; `source_number` is the number in the file (None for "-")."""

    where: str
    number: int = 0
    source_number: int | None = None
    phase: str = ""
    offset: datetime.timedelta | None = None
    scheduled_at: datetime.datetime | None = None
    channel: str = "email"
    sender: str = ""
    target_cell: str = ""
    target_role: str = ""
    subject: str = ""
    content: str = ""
    attachments: list[str] = field(default_factory=list)
    kind: str = "structuring"
    comment: str = ""
    excluded: bool = False
    deliverable: str = ""
    dependencies: list[int] = field(default_factory=list)
    expected_reactions: list[ParsedReaction] = field(default_factory=list)


@dataclass(frozen=True)
class RowProblem:
    where: str  # "Feuille 1!12", or "inject 4" for JSON
    message: str

    def __str__(self) -> str:
        return f"{self.where} : {self.message}"


@dataclass
class Chronogramme:
    injects: list[ParsedInject] = field(default_factory=list)
    errors: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    sheet: str = ""
    header_row: int = 0
    headers: list[str] = field(default_factory=list)
    mapping: dict[int, str] = field(default_factory=dict)
    sheet_names: list[str] = field(default_factory=list)
    # Rows in error, so that "import only the good rows" knows which injects were dropped.
    bad_rows: set[str] = field(default_factory=set)
    # Headers recognised only by closeness to a known word: (header, field label).
    fuzzy_headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def is_clean(self) -> bool:
        return not self.errors


class ChronogrammeFileError(ValueError):
    """The file as a whole cannot be read (not a spreadsheet, no header row…)."""


# ---------------------------------------------------------------------------- XLSX


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _header_score(row: tuple[Any, ...]) -> int:
    return len(set(guess_mapping(list(row)).values()))


def _find_header(rows: list[tuple[Any, ...]]) -> tuple[int, int]:
    """(index of the header row within the first rows, its score)."""
    best = (0, 0)
    for index, row in enumerate(rows[:40]):
        score = _header_score(row)
        if score > best[1]:
            best = (index, score)
    return best


# Workbooks are read by core.tabular, bounded in size, rows, cells and time.
CHRONOGRAMME_LIMITS = tabular.Limits(max_bytes=5 * 1024 * 1024, max_rows=5_000, max_columns=60,
                                     max_cell_chars=20_000)


def read_workbook(data: bytes) -> tabular.Workbook:
    try:
        return tabular.read_workbook(data, limits=CHRONOGRAMME_LIMITS)
    except tabular.FileRefused as exc:
        raise ChronogrammeFileError(" ".join(exc.messages)) from exc


def sheet_rows(workbook: tabular.Workbook, name: str, *, max_row: int | None = None) -> list[tuple[Any, ...]]:
    try:
        return workbook.sheet(name, max_rows=max_row).values()
    except tabular.FileRefused as exc:
        raise ChronogrammeFileError(" ".join(exc.messages)) from exc


def pick_sheet(workbook: tabular.Workbook) -> str:
    """The sheet whose header row looks most like a chronogramme."""
    best_name, best_score = workbook.sheetnames[0], -1
    for name in workbook.sheetnames:
        rows = sheet_rows(workbook, name, max_row=40)
        _index, score = _find_header(rows)
        if score > best_score:
            best_name, best_score = name, score
    return best_name


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


def _reaction_to_text(reaction: Any) -> str:
    tail = []
    if reaction.deadline is not None:
        tail.append(f"{int(reaction.deadline.total_seconds()) // 60} min")
    if reaction.criterion is not None:
        tail.append(reaction.criterion.area)
    return f"- {reaction.description}" + (f" [{', '.join(tail)}]" if tail else "")


def _parse_number(value: Any) -> int | None | str:
    """An int, None for "-"/empty, or the text when it is not a number."""
    text = _cell_text(value)
    if text in {"", "-", "—", "–", "x", "/"}:
        return None
    match = re.fullmatch(r"#?\s*(-?\d+)(?:\.0)?", text)
    if match:
        return int(match.group(1))
    return text


def parse_dependencies(value: Any) -> list[int] | None:
    text = _cell_text(value)
    if not text or text in {"-", "x"}:
        return []
    parts = [p for p in re.split(r"[,;/\s]+|\bet\b", text) if p]
    numbers = []
    for part in parts:
        part = part.lstrip("#")
        if not part.isdigit():
            return None
        numbers.append(int(part))
    return numbers


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
        header_index, score = _find_header(rows)
        if score < 2 and mapping is not None:
            # Headers we do not know: the user mapped the columns; the header is the first
            # row with several filled cells.
            header_index = next((i for i, row in enumerate(rows) if sum(1 for v in row if _cell_text(v)) >= 2), 0)
        elif score < 2:
            raise ChronogrammeFileError(
                _("No header row found in sheet “%(sheet)s”: name the columns (N°, Heure, Canal, Stimulus…).")
                % {"sheet": sheet}
            )
    headers = [_cell_text(v) for v in rows[header_index]] if rows else []
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
    previous_time: ParsedTime = ParsedTime()
    for index in range(header_index + 1, len(rows)):
        row = rows[index]
        where = f"{sheet}!{index + 1}"
        filled = [(i, v) for i, v in enumerate(row) if _cell_text(v)]
        if not filled:
            continue
        # A phase row: one filled cell, text, not a stimulus ("TANGO 1 (remontée…)").
        texts = [(i, v) for i, v in filled if isinstance(v, str) and i != columns.get("time")]
        if len(texts) == 1 and is_marker(_cell_text(texts[0][1])):
            result.warnings.append(RowProblem(where, _("Marker “%(text)s”: not an inject nor a phase.") % {
                "text": _cell_text(texts[0][1])[:80]}))
            continue
        if len(filled) == 1 and not isinstance(filled[0][1], datetime.time | datetime.datetime):
            text = _cell_text(filled[0][1])
            if columns.get("content") != filled[0][0] or re.match(r"(?i)^(tango|phase|partie|s[ée]quence|temps)\b", text):
                phase = text
                continue
        inject = ParsedInject(where=where)
        row_errors: list[str] = []
        number = _parse_number(get(row, "number"))
        if isinstance(number, str):
            row_errors.append(_("“%(value)s” is not an inject number.") % {"value": number})
        elif number is not None and number >= 0:
            inject.source_number = number
        inject.phase = _cell_text(get(row, "phase")) or phase
        inject.sender = _cell_text(get(row, "sender"))[:200]
        inject.target_cell = _cell_text(get(row, "target_cell"))[:200]
        inject.target_role = _cell_text(get(row, "target_role"))[:200]
        inject.subject = _cell_text(get(row, "subject"))[:300]
        inject.content = _cell_text(get(row, "content"))
        attachments = _cell_text(get(row, "attachments"))
        inject.attachments = [] if attachments in {"", "-", "x"} else [attachments]
        inject.comment = _cell_text(get(row, "comment"))
        inject.deliverable = _cell_text(get(row, "deliverable"))[:300]
        if not (inject.content or inject.subject):
            result.warnings.append(RowProblem(where, _("Row without a stimulus: skipped.")))
            continue
        channel_cell = get(row, "channel")
        if _cell_text(channel_cell):
            channel = parse_channel(channel_cell)
            if channel is None:
                row_errors.append(
                    _("Unknown channel “%(value)s” (email, SMS, voice, phone call, oral, press article, social media).")
                    % {"value": _cell_text(channel_cell)}
                )
            else:
                inject.channel = channel
        kind_cell = get(row, "kind")
        if _cell_text(kind_cell):
            kind = parse_kind(kind_cell)
            if kind is None:
                row_errors.append(
                    _("Unknown inject kind “%(value)s” (structuring, saturating, background noise).")
                    % {"value": _cell_text(kind_cell)}
                )
            else:
                inject.kind = kind
        parsed_time, note = parse_time_with_note(get(row, "time"))
        if note:
            inject.comment = f"{note}\n{inject.comment}".strip()
        state_cell = get(row, "state")
        excluded = parse_state(state_cell)
        if excluded is None:
            row_errors.append(_("State “%(value)s” cannot be read (✅ or ❌, exclu, annulé).") % {
                "value": _cell_text(state_cell)})
        else:
            inject.excluded = excluded
        if parsed_time is None:
            row_errors.append(
                _("Time “%(value)s” cannot be read (write 10h15, 13:30, +00:45 or T+45).")
                % {"value": _cell_text(get(row, "time"))}
            )
            parsed_time = ParsedTime()
        elif parsed_time == ParsedTime():
            parsed_time = previous_time  # "-": at the same time as the row above
        else:
            previous_time = parsed_time
        dependencies = parse_dependencies(get(row, "dependencies"))
        if dependencies is None:
            row_errors.append(
                _("“%(value)s” is not a list of inject numbers.") % {"value": _cell_text(get(row, "dependencies"))}
            )
        else:
            inject.dependencies = dependencies
        deadline = None
        try:
            deadline = parse_duration(get(row, "deadline"))
        except ValueError:
            row_errors.append(
                _("Deadline “%(value)s” cannot be read (write 15 min or 1h30).") % {"value": _cell_text(get(row, "deadline"))}
            )
        inject.expected_reactions = [
            _reaction_from_text(text, deadline=deadline, cell=inject.target_cell[:200])
            for text in _split_reactions(_cell_text(get(row, "expected_reactions")))
        ]
        if row_errors:
            result.errors.extend(RowProblem(where, message) for message in row_errors)
            result.bad_rows.add(where)
        raw.append((inject, parsed_time))
    _place_in_time(raw, start)
    result.injects = [inject for inject, _time in raw]
    _number_injects(result, used_numbers or set())
    check_dependencies(result)
    return result


def _place_in_time(raw: list[tuple[ParsedInject, ParsedTime]], start: datetime.datetime | None) -> None:
    """Offsets from the exercise start. Times of day count from the start's time of day,
    or, without a start, from the earliest time of day in the file."""
    times_of_day = [t.time_of_day for _i, t in raw if t.time_of_day is not None]
    if start is not None:
        local_start = timezone.localtime(start) if timezone.is_aware(start) else start
        anchor = datetime.datetime.combine(datetime.date(2000, 1, 1), local_start.time().replace(microsecond=0))
    elif times_of_day:
        anchor = datetime.datetime.combine(datetime.date(2000, 1, 1), min(times_of_day))
    else:
        anchor = None
    for inject, parsed in raw:
        if parsed.offset is not None:
            inject.offset = parsed.offset
        elif parsed.time_of_day is not None and anchor is not None:
            inject.offset = datetime.datetime.combine(datetime.date(2000, 1, 1), parsed.time_of_day) - anchor
        elif parsed.moment is not None:
            moment = parsed.moment
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
            inject.scheduled_at = moment


def _number_injects(result: Chronogramme, used: set[int]) -> None:
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


def read_xlsx(
    data: bytes,
    *,
    sheet: str | None = None,
    mapping: dict[int, str] | None = None,
    start: datetime.datetime | None = None,
    used_numbers: set[int] | None = None,
) -> Chronogramme:
    workbook = read_workbook(data)
    try:
        names = list(workbook.sheetnames)
        if sheet is not None and sheet not in names:
            raise ChronogrammeFileError(_("The workbook has no sheet “%(sheet)s”.") % {"sheet": sheet})
        chosen = sheet or pick_sheet(workbook)
        rows = sheet_rows(workbook, chosen)
    finally:
        workbook.close()
    if not rows:
        raise ChronogrammeFileError(_("Sheet “%(sheet)s” is empty.") % {"sheet": chosen})
    result = parse_rows(rows, sheet=chosen, mapping=mapping, start=start, used_numbers=used_numbers)
    result.sheet_names = names
    return result


# ---------------------------------------------------------------------------- export


def _format_offset(offset: datetime.timedelta) -> str:
    sign = "-" if offset < datetime.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"T{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _time_cell(exercise: Exercise, inject: Any) -> Any:
    if inject.offset is not None:
        if exercise.planned_start is not None:
            return (timezone.localtime(exercise.planned_start) + inject.offset).strftime("%Hh%M")
        return _format_offset(inject.offset)
    if inject.scheduled_at is not None:
        return timezone.localtime(inject.scheduled_at).strftime("%Hh%M (%d/%m/%Y)")
    return "-"


def export_xlsx(exercise: Exercise) -> bytes:
    """The chronogramme in the usual kit layout: a title row, the header, phase rows
    before the injects of each phase."""
    from openpyxl.styles import Alignment, Font, PatternFill

    injects = _ordered_injects(exercise)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Chronogramme"
    sheet.append([tabular.neutralise(f"Chronogramme — {exercise.title}")])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(list(EXPORT_HEADERS.values()))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDE4EE")
    current_phase = None
    for inject in injects:
        if inject.phase != current_phase:
            current_phase = inject.phase
            if inject.phase:
                sheet.append([tabular.neutralise(inject.phase)])
                sheet.cell(sheet.max_row, 1).font = Font(bold=True)
        reactions = list(inject.expected_reactions.all())
        values = {
            "number": inject.number,
            "time": _time_cell(exercise, inject),
            "phase": inject.phase,
            "channel": Channel(inject.channel).label,
            "sender": inject.sender,
            "target_cell": inject.target_cell,
            "target_role": inject.target_role,
            "subject": inject.subject,
            "content": inject.content,
            "attachments": "\n".join(inject.attachments or []),
            "expected_reactions": "\n".join(_reaction_to_text(r) for r in reactions),
            "deadline": "",
            "kind": InjectKind(inject.kind).label,
            "dependencies": ", ".join(str(d.number) for d in inject.dependencies.all()),
            "comment": inject.comment,
            "deliverable": inject.deliverable,
            "state": "❌" if inject.excluded else "✅",
        }
        sheet.append([tabular.neutralise(str(values[name])) if name != "number" else values[name]
                      for name in EXPORT_HEADERS])
    widths = {"A": 6, "B": 12, "C": 22, "I": 60, "K": 50}
    for column, width in widths.items():
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=3):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _ordered_injects(exercise: Exercise) -> list[Any]:
    injects = list(
        exercise.injects.prefetch_related("expected_reactions__criterion", "dependencies").order_by("number")
    )
    far = datetime.timedelta(days=3650)

    def key(inject: Any) -> tuple[datetime.timedelta, int]:
        due = inject.due_offset(exercise.planned_start)
        return (due if due is not None else far, inject.number)

    return sorted(injects, key=key)


def export_json(exercise: Exercise) -> dict[str, Any]:
    """See data/chronogramme-format.md."""
    return {
        "format": "planblanc-chronogramme",
        "format_version": FORMAT_VERSION,
        "title": exercise.title,
        "kit": exercise.kit_slug,
        "maturity_level": exercise.maturity_level,
        "start": exercise.planned_start.isoformat() if exercise.planned_start else None,
        "injects": [
            {
                "number": inject.number,
                "phase": inject.phase,
                "offset_minutes": (int(inject.offset.total_seconds()) // 60) if inject.offset is not None else None,
                "at": inject.scheduled_at.isoformat() if inject.scheduled_at else None,
                "channel": inject.channel,
                "sender": inject.sender,
                "target_cell": inject.target_cell,
                "target_role": inject.target_role,
                "subject": inject.subject,
                "content": inject.content,
                "attachments": list(inject.attachments or []),
                "kind": inject.kind,
                "after": sorted(d.number for d in inject.dependencies.all()),
                "comment": inject.comment,
                "deliverable": inject.deliverable,
                **({"excluded": True} if inject.excluded else {}),
                "expected_reactions": [
                    {
                        "description": reaction.description,
                        "deadline_minutes": (int(reaction.deadline.total_seconds()) // 60)
                        if reaction.deadline is not None
                        else None,
                        "cell": reaction.cell,
                        "criterion": reaction.criterion.area if reaction.criterion else None,
                    }
                    for reaction in inject.expected_reactions.all()
                ],
            }
            for inject in _ordered_injects(exercise)
        ],
    }


def read_json(document: Any, *, used_numbers: set[int] | None = None) -> Chronogramme:
    """Read the JSON format (any format_version up to ours)."""
    result = Chronogramme(sheet="json")
    if not isinstance(document, dict) or document.get("format") != "planblanc-chronogramme":
        raise ChronogrammeFileError(_("This is not a Plan Blanc chronogramme (\"format\": \"planblanc-chronogramme\")."))
    version = document.get("format_version")
    if not isinstance(version, int) or version < 1 or version > FORMAT_VERSION:
        raise ChronogrammeFileError(
            _("Chronogramme format version %(version)s is not supported (this platform reads up to %(ours)d).")
            % {"version": version, "ours": FORMAT_VERSION}
        )
    items = document.get("injects")
    if not isinstance(items, list):
        raise ChronogrammeFileError(_("\"injects\" must be a list."))
    for position, item in enumerate(items, start=1):
        where = _("inject %(position)d") % {"position": position}
        if not isinstance(item, dict):
            result.errors.append(RowProblem(where, _("Each inject must be an object.")))
            continue
        problems: list[str] = []
        inject = ParsedInject(where=where)
        number = item.get("number")
        if isinstance(number, int) and not isinstance(number, bool) and number >= 0:
            inject.source_number = number
        elif number is not None:
            problems.append(_("“%(value)s” is not an inject number.") % {"value": number})
        channel = item.get("channel") or "email"
        if channel not in Channel.values:
            problems.append(_("Unknown channel “%(value)s”.") % {"value": channel})
        else:
            inject.channel = channel
        kind = item.get("kind") or "structuring"
        if kind not in InjectKind.values:
            problems.append(_("Unknown inject kind “%(value)s”.") % {"value": kind})
        else:
            inject.kind = kind
        offset = item.get("offset_minutes")
        at = item.get("at")
        if offset is not None:
            if isinstance(offset, int | float) and not isinstance(offset, bool):
                inject.offset = datetime.timedelta(minutes=offset)
            else:
                problems.append(_("“offset_minutes” must be a number of minutes."))
        elif at:
            try:
                moment = datetime.datetime.fromisoformat(str(at))
            except ValueError:
                problems.append(_("Time “%(value)s” cannot be read (ISO 8601 expected).") % {"value": at})
            else:
                inject.scheduled_at = moment if timezone.is_aware(moment) else timezone.make_aware(moment)
        for name, limit in (("phase", 200), ("sender", 200), ("target_cell", 200), ("target_role", 200),
                            ("subject", 300), ("content", None), ("comment", None), ("deliverable", 300)):
            value = item.get(name) or ""
            if not isinstance(value, str):
                problems.append(_("“%(name)s” must be text.") % {"name": name})
                continue
            if limit is not None and len(value) > limit:
                problems.append(_("“%(name)s” is longer than %(limit)d characters.") % {"name": name, "limit": limit})
            setattr(inject, name, value)
        excluded = item.get("excluded", False)
        if not isinstance(excluded, bool):
            problems.append(_("“excluded” must be true or false."))
        else:
            inject.excluded = excluded
        attachments = item.get("attachments") or []
        if not isinstance(attachments, list) or not all(isinstance(a, str) for a in attachments):
            problems.append(_("“attachments” must be a list of texts."))
        else:
            inject.attachments = attachments
        after = item.get("after") or []
        if not isinstance(after, list) or not all(isinstance(n, int) for n in after):
            problems.append(_("“after” must be a list of inject numbers."))
        else:
            inject.dependencies = after
        for reaction in item.get("expected_reactions") or []:
            if not isinstance(reaction, dict) or not reaction.get("description"):
                problems.append(_("Each expected reaction needs a description."))
                continue
            deadline = reaction.get("deadline_minutes")
            inject.expected_reactions.append(
                ParsedReaction(
                    description=str(reaction["description"]),
                    deadline=datetime.timedelta(minutes=deadline) if isinstance(deadline, int | float) else None,
                    cell=str(reaction.get("cell") or "")[:200],
                    criterion_area=str(reaction.get("criterion") or ""),
                )
            )
        if not (inject.content or inject.subject):
            problems.append(_("An inject needs a subject or a content."))
        if problems:
            result.errors.extend(RowProblem(where, message) for message in problems)
            result.bad_rows.add(where)
        result.injects.append(inject)
    _number_injects(result, used_numbers or set())
    check_dependencies(result)
    return result
