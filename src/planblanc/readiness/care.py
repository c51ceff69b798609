"""CaRE domain 2 ("Stratégie de continuité et de reprise d'activité"): its prerequisites
and objectives with their identifiers (D2.P1 … D2.O4), what each must show, and the
programme's windows with their deadlines. Read from `readiness/data/care/domain2.yaml`,
which cites its sources; a date the sources do not confirm stays empty there and is
shown as unconfirmed."""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DATA_FILE = Path(__file__).parent / "data" / "care" / "domain2.yaml"


@functools.cache
def domain2_data() -> dict[str, Any]:
    return yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Window:
    key: str
    label: str
    opens: datetime.date
    closes: datetime.date | None
    source: str
    today: datetime.date

    @property
    def state(self) -> str:
        """upcoming, open or closed."""
        if self.today < self.opens:
            return "upcoming"
        if self.closes is not None and self.today > self.closes:
            return "closed"
        return "open"

    @property
    def days_left(self) -> int | None:
        """Days until it closes (while open and its closing date is known)."""
        if self.state != "open" or self.closes is None:
            return None
        return (self.closes - self.today).days

    @property
    def days_to_open(self) -> int | None:
        return (self.opens - self.today).days if self.state == "upcoming" else None


@dataclass(frozen=True)
class Objective:
    id: str
    kind: str
    title: str
    evidence: tuple[str, ...]
    since: datetime.date | None
    window: Window | None
    deadline: Window

    @property
    def is_prerequisite(self) -> bool:
        return self.kind == "prerequisite"


@dataclass(frozen=True)
class Domain2:
    objectives: list[Objective]
    windows: list[Window]
    sources: dict[str, str]
    evidence_confirmed: bool

    @property
    def declaration(self) -> Window:
        return next(w for w in self.windows if w.key == "declaration")


def _date(value: Any) -> datetime.date | None:
    if value is None or isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value))


def care_domain2(*, today: datetime.date) -> Domain2:
    """The objectives and windows as of `today`. Each objective's deadline is the
    declaration window (the evidence is filed with it); those that must happen during
    the operational phase (a field test, a restore test) also name that window."""
    data = domain2_data()
    windows = [
        Window(key=str(w["key"]), label=str(w["label"]), opens=_date(w["opens"]),  # type: ignore[arg-type]
               closes=_date(w.get("closes")), source=str(w.get("source") or ""), today=today)
        for w in data["windows"]
    ]
    by_key = {w.key: w for w in windows}
    objectives = [
        Objective(
            id=str(o["id"]), kind=str(o["kind"]), title=str(o["title"]),
            evidence=tuple(str(e) for e in o.get("evidence") or []), since=_date(o.get("since")),
            window=by_key.get(str(o.get("during") or "")), deadline=by_key["declaration"],
        )
        for o in data["objectives"]
    ]
    return Domain2(objectives=objectives, windows=windows, sources=dict(data["sources"]),
                   evidence_confirmed=bool(data.get("evidence_confirmed")))
