"""Observatory charts on a phone: row labels fit their column on two lines at most,
establishments with similar names stay told apart, and figures follow the language."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from django.utils import translation

from planblanc.readiness import charts

NAMES = ["Centre hospitalier de Rivemont", "Centre hospitalier de Belleval", "CHU de Belleval",
         "Groupement hospitalier de territoire Belleval-Rivemont"]


def _visible_lines(markup: str) -> list[list[str]]:
    root = ET.fromstring(markup)  # noqa: S314 (our own chart markup)
    rows = []
    for text in root.iter("{http://www.w3.org/2000/svg}text"):
        if text.get("text-anchor") != "end" or text.get("x") != "142":
            continue
        spans = [span.text or "" for span in text.iter("{http://www.w3.org/2000/svg}tspan")]
        rows.append(spans or [text.text or ""])
    return rows


def test_it_tells_similar_establishments_apart_within_the_label_column() -> None:
    markup = str(charts.bar_chart(title="Score", desc="d", labels=NAMES, values=[40, 55.5, 70, None]))
    rows = _visible_lines(markup)
    assert len(rows) == len(NAMES)
    assert len({" ".join(lines) for lines in rows}) == len(NAMES), rows
    for lines in rows:
        assert len(lines) <= 2
        for line in lines:
            # 150 units of label column at 11-13 units a character of ~0.6 em.
            assert len(line) <= 22, line
    assert any("Rivemont" in " ".join(lines) for lines in rows[:1])
    assert "Belleval-Rivemont" in " ".join(rows[3])
    # The whole name stays available as the label's tooltip.
    assert "<title>Groupement hospitalier de territoire Belleval-Rivemont</title>" in markup


def test_it_writes_figures_in_the_language_of_the_page() -> None:
    with translation.override("fr"):
        french = str(charts.bar_chart(title="t", desc="d", labels=["A"], values=[55.5]))
    with translation.override("en"):
        english = str(charts.bar_chart(title="t", desc="d", labels=["A"], values=[55.5]))
    assert re.search(r">55,5%<", french) and re.search(r">55\.5%<", english)
