"""What reading a chronogramme returns: injects as read, the rows it could not read,
and the file's own notes."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field


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
    story_time: str = ""
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
    # Files handed with the inject (JSON format only): (name, bytes).
    files: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class ParsedMarker:
    """A landmark row (DEBEX, FINEX, a pause): placed on the timeline, never fired.
    `position` is the number of injects read before it."""

    where: str
    label: str
    kind: str = "other"
    offset: datetime.timedelta | None = None
    position: int = 0


@dataclass(frozen=True)
class RowProblem:
    where: str  # "Feuille 1!12", or "inject 4" for JSON
    message: str

    def __str__(self) -> str:
        return f"{self.where} : {self.message}"


@dataclass
class Chronogramme:
    injects: list[ParsedInject] = field(default_factory=list)
    markers: list[ParsedMarker] = field(default_factory=list)
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
