"""Accessible SVG charts rendered on the server (no JavaScript).

Written by hand rather than with a plotting library: the four shapes we need (bar,
stacked bar, histogram, line with a target) are a few rectangles and a polyline, and the
libraries that render SVG offline (matplotlib, pygal) either weigh tens of megabytes or
emit inline styles and scripts that our content security policy refuses.

Contract of every chart function: it returns well-formed SVG markup (built with
ElementTree, so text is escaped) with `role="img"`, a `<title>` and a `<desc>` referenced
by `aria-labelledby`, a `viewBox` and `width="100%"` so it shrinks on a phone, and only
presentation attributes (no `style`, which the CSP forbids). The data table that goes
with each chart is rendered by the page below it (the accessible fallback and the export).
Colours have a contrast of at least 3:1 against white (WCAG 1.4.11), and stacked segments
are separated by a white line.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from django.utils.formats import number_format
from django.utils.safestring import SafeString, mark_safe

SVG_NS = "http://www.w3.org/2000/svg"
# Each at least 3:1 against white; ordered so that neighbours differ in hue and lightness.
PALETTE = ["#b3261e", "#a14a00", "#6b5d00", "#1b6e3a", "#0b5cad", "#6a3d9a", "#00707a", "#5d4037"]
NEUTRAL = "#6c757d"
TEXT = "#212529"
GRID = "#adb5bd"
TARGET = "#b3261e"
# A narrow canvas: on a phone the chart is drawn about 360 px wide, so 13-unit text stays
# near 10 px; on a wide screen the page puts the chart in a column.
WIDTH = 480
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"

_counter = itertools.count(1)


def relative_luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str = "#ffffff") -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _label_lines(label: str, size: int = 22) -> list[str]:
    """A row label on at most two lines that fit the label column. A longer label keeps
    its end (“Centre hospitalier de Rivemont” → “Centre hospitalier” / “de Rivemont”;
    “…Belleval-Rivemont”), which is what tells similar establishments apart."""
    if len(label) <= size:
        return [label]
    words, first = label.split(), ""
    while words and len(f"{first} {words[0]}".strip()) <= size:
        first = f"{first} {words.pop(0)}".strip()
    if not first:  # one very long word
        first, rest = label[: size - 1] + "-", label[size - 1:]
    else:
        rest = " ".join(words)
    if len(rest) > size:
        rest = "…" + rest[-(size - 1):]
    return [first, rest]


def _row_label(svg: _Svg, label: str, *, x: float, y: float) -> None:
    """The label of a row of height 28 starting at y, right-aligned at x, with the full
    label as its tooltip."""
    lines = _label_lines(label)
    text = svg.add("text", None, x=x, y=y + 17, text_anchor="end")
    if len(lines) == 1:
        text.text = lines[0]
    else:
        text.set("font-size", "11")
        for index, line in enumerate(lines):
            svg.add("tspan", line, parent=text, x=x, y=y + 12 + index * 12)
    if lines != [label]:
        svg.add("title", label, parent=text)


def _fmt(value: float) -> str:
    """A figure as the page's language writes it (12,5 in French, 12.5 in English)."""
    return number_format(round(float(value)) if float(value).is_integer() else round(float(value), 1),
                         decimal_pos=0 if float(value).is_integer() else 1, use_l10n=True)


class _Svg:
    def __init__(self, *, title: str, desc: str, width: int, height: int, uid: str | None = None) -> None:
        self.uid = uid or f"chart{next(_counter)}"
        self.root = ET.Element("svg", {
            "xmlns": SVG_NS, "viewBox": f"0 0 {width} {height}", "width": "100%", "role": "img",
            "aria-labelledby": f"{self.uid}-title {self.uid}-desc", "preserveAspectRatio": "xMinYMin meet",
            "font-family": FONT, "font-size": "13", "fill": TEXT, "class": "pb-chart",
        })
        ET.SubElement(self.root, "title", {"id": f"{self.uid}-title"}).text = title
        ET.SubElement(self.root, "desc", {"id": f"{self.uid}-desc"}).text = desc

    def add(self, tag: str, text: str | None = None, parent: ET.Element | None = None, **attrs: object) -> ET.Element:
        element = ET.SubElement(parent if parent is not None else self.root, tag,
                                {k.rstrip("_").replace("_", "-"): str(v) for k, v in attrs.items()})
        if text is not None:
            element.text = text
        return element

    def render(self) -> SafeString:
        markup = ET.tostring(self.root, encoding="unicode")
        return mark_safe(markup)  # noqa: S308 — built by ElementTree, text escaped


def _legend(svg: _Svg, names: Sequence[str], colours: Sequence[str], y: int, width: int) -> int:
    """Legend items wrapped over lines; returns the y below the legend."""
    x = 0
    for name, colour in zip(names, colours, strict=True):
        item_width = 20 + 7 * len(name) + 14
        if x and x + item_width > width:
            x, y = 0, y + 20
        svg.add("rect", x=x, y=y, width=14, height=14, fill=colour)
        svg.add("text", name, x=x + 19, y=y + 12)
        x += item_width
    return y + 26


def bar_chart(*, title: str, desc: str, labels: Sequence[str], values: Sequence[float | None],
              max_value: float = 100, unit: str = "%", target: float | None = None,
              target_label: str = "", uid: str | None = None) -> SafeString:
    """Horizontal bars, one per label (long labels read well on a phone this way)."""
    width, label_w, row_h = WIDTH, 150, 28
    plot_w = width - label_w - 54
    height = 30 + row_h * max(len(labels), 1) + (24 if target is not None else 0)
    svg = _Svg(title=title, desc=desc, width=width, height=height, uid=uid)
    scale = plot_w / (max_value or 1)
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 10 + index * row_h
        _row_label(svg, label, x=label_w - 8, y=y)
        svg.add("rect", x=label_w, y=y + 4, width=plot_w, height=row_h - 8, fill="#f1f3f5")
        if value is not None:
            svg.add("rect", x=label_w, y=y + 4, width=round(min(value, max_value) * scale, 1), height=row_h - 8,
                    fill=PALETTE[4])
        svg.add("text", "—" if value is None else f"{_fmt(value)}{unit}", x=label_w + plot_w + 6, y=y + 17)
    if target is not None:
        x = label_w + min(target, max_value) * scale
        bottom = 10 + row_h * max(len(labels), 1)
        svg.add("line", x1=x, y1=4, x2=x, y2=bottom, stroke=TARGET, stroke_width=2, stroke_dasharray="6 4",
                class_="pb-target")
        svg.add("text", target_label, x=min(x, width - 4), y=bottom + 18, text_anchor="end", fill=TARGET)
    return svg.render()


def stacked_bar_chart(*, title: str, desc: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
                      normalise: bool = True, first_neutral: bool = False, uid: str | None = None) -> SafeString:
    """Horizontal stacked bars: one bar per label, one segment per series. Normalised,
    each bar is 100 % of its row (categories of different sizes compare). With
    `first_neutral`, the first series ("not assessed", "not given") is grey."""
    width, label_w, row_h = WIDTH, 150, 28
    plot_w = width - label_w - 10
    svg = _Svg(title=title, desc=desc, width=width, height=0, uid=uid)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    if first_neutral and colours:
        colours = [NEUTRAL] + colours[:-1]
    top = _legend(svg, [name for name, _v in series], colours, 4, width)
    totals = [sum(values[i] for _n, values in series) for i in range(len(labels))]
    largest = max(totals, default=0) or 1
    for index, label in enumerate(labels):
        y = top + index * row_h
        _row_label(svg, label, x=label_w - 8, y=y)
        total = totals[index]
        scale = plot_w / (total if normalise else largest) if total else 0
        x = float(label_w)
        for s_index, (name, values) in enumerate(series):
            value = values[index]
            if not value:
                continue
            w = value * scale
            rect = svg.add("rect", x=round(x, 1), y=y + 4, width=round(w, 1), height=row_h - 8,
                           fill=colours[s_index], stroke="#ffffff", stroke_width=1)
            svg.add("title", f"{label} — {name}: {_fmt(value)}", parent=rect)
            x += w
        if not total:
            svg.add("text", "—", x=label_w + 4, y=y + 17, fill=NEUTRAL)
    svg.root.set("viewBox", f"0 0 {width} {top + row_h * max(len(labels), 1) + 6}")
    return svg.render()


def histogram(*, title: str, desc: str, labels: Sequence[str], values: Sequence[float],
              uid: str | None = None) -> SafeString:
    """Vertical columns for a few ordered bins, the count above each column."""
    width, height, bottom, top = WIDTH, 250, 200, 20
    svg = _Svg(title=title, desc=desc, width=width, height=height, uid=uid)
    n = max(len(labels), 1)
    slot = (width - 20) / n
    largest = max(values, default=0) or 1
    svg.add("line", x1=10, y1=bottom, x2=width - 10, y2=bottom, stroke=GRID)
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = (bottom - top - 16) * value / largest
        x = 10 + index * slot
        svg.add("rect", x=round(x + slot * 0.15, 1), y=round(bottom - h, 1), width=round(slot * 0.7, 1),
                height=round(h, 1), fill=NEUTRAL if index == 0 and label else PALETTE[4])
        svg.add("text", _fmt(value), x=round(x + slot / 2, 1), y=round(bottom - h - 4, 1), text_anchor="middle")
        for line_no, part in enumerate(_wrap(label, max(8, int(slot / 7)))[:2]):
            svg.add("text", part, x=round(x + slot / 2, 1), y=bottom + 18 + 15 * line_no, text_anchor="middle",
                    font_size=12)
    return svg.render()


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def line_chart(*, title: str, desc: str, labels: Sequence[str], values: Sequence[float],
               max_value: float = 100, unit: str = "%", target: float | None = None, target_label: str = "",
               uid: str | None = None) -> SafeString:
    """A line over time (0..max_value) with an optional horizontal target line."""
    width, height, left, right, top, bottom = WIDTH, 260, 44, 16, 22, 220
    svg = _Svg(title=title, desc=desc, width=width, height=height, uid=uid)
    plot_w, plot_h = width - left - right, bottom - top
    for tick in (0, 25, 50, 75, 100):
        y = bottom - plot_h * tick / 100
        svg.add("line", x1=left, y1=round(y, 1), x2=width - right, y2=round(y, 1), stroke="#dee2e6")
        svg.add("text", f"{_fmt(max_value * tick / 100)}{unit}", x=left - 6, y=round(y + 4, 1), text_anchor="end",
                font_size=11)
    n = len(values)
    step = plot_w / max(n - 1, 1)
    points = [(left + i * step, bottom - plot_h * min(v, max_value) / max_value) for i, v in enumerate(values)]
    every = max(1, (n + 7) // 8)
    for i, label in enumerate(labels):
        if i % every == 0 or i == n - 1:
            svg.add("text", label, x=round(left + i * step, 1), y=bottom + 18, text_anchor="middle", font_size=11)
    if points:
        svg.add("polyline", points=" ".join(f"{x:.1f},{y:.1f}" for x, y in points), fill="none", stroke=PALETTE[4],
                stroke_width=3)
        for (x, y), value, label in zip(points, values, labels, strict=True):
            circle = svg.add("circle", cx=f"{x:.1f}", cy=f"{y:.1f}", r=3.5, fill=PALETTE[4])
            svg.add("title", f"{label}: {_fmt(value)}{unit}", parent=circle)
    if target is not None:
        # Drawn last, so that it stays visible where the line reaches the target.
        y = bottom - plot_h * min(target, max_value) / max_value
        svg.add("line", x1=left, y1=round(y, 1), x2=width - right, y2=round(y, 1), stroke=TARGET, stroke_width=2,
                stroke_dasharray="6 4", class_="pb-target")
        svg.add("text", target_label, x=width - right, y=round(max(y - 6, 12), 1), text_anchor="end", fill=TARGET)
    return svg.render()
