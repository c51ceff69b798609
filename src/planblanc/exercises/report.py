"""Lessons-learned report of an exercise (retour d'expérience, RETEX): context, timeline of
what was sent and done, scores with a radar chart, strengths, improvement actions and
the participants' questionnaire; as a page and as a PDF (WeasyPrint, nothing fetched).

Improvement actions are the crisis app's (crisis.models.ImprovementAction) on the
exercise crisis: open ones already appear in the plan's gap list."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import PUBLIC_QUESTIONNAIRE, Actor
from planblanc.crisis import report as crisis_report
from planblanc.directory.models import Person
from planblanc.exercises.evaluation import Evaluation, evaluation_compute, evaluation_scores
from planblanc.exercises.models import (
    ExerciseRun,
    InjectRun,
    Observation,
    QuestionnaireAnswer,
    RunStatus,
)
from planblanc.tenancy import user_label

QUESTIONNAIRE_SALT = "planblanc.exercises.questionnaire"
QUESTIONNAIRE_MAX_AGE = datetime.timedelta(days=30)
# A criterion scoring at least this is a strength; below it, a point to improve.
STRENGTH_FROM = 75.0


# ---------------------------------------------------------------------------- radar chart


def _wrap(label: str, width: int = 18, lines: int = 3) -> list[str]:
    """A label on a few short lines, so that it never runs past the chart's edge."""
    words, out, line = label.split(), [], ""
    for word in words:
        word = word if len(word) <= width else word[: width - 1] + "…"
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        out.append(line)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 1].rstrip() + "…"
    return out or [""]


def radar_svg(*, labels: list[str], values: list[float | None], width: int = 560, height: int = 420) -> SafeString:
    """An accessible SVG radar chart of scores from 0 to 100 (None drawn as 0, labelled
    "not assessed"). The viewBox keeps room around the chart for labels wrapped on up to
    three lines, and the chart scales down to the screen (CSS .radar). Numbers follow the
    language (87,5 in French). Presentation attributes only: no style attribute (strict CSP)."""
    n = len(labels)
    cx, cy = width / 2, height / 2
    radius = min(cx - 150, cy - 70)
    line_height = 13
    title = escape(_("Scores by criterion (0 to 100)"))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="radar-title" class="radar" preserveAspectRatio="xMidYMid meet">',
        f'<title id="radar-title">{title}</title>',
    ]
    if n < 3:
        parts.append(f'<text x="10" y="20" font-size="12">{escape(_("Not enough criteria for a chart."))}</text>')
        parts.append("</svg>")
        return mark_safe("".join(parts))  # noqa: S308 - every text is escaped above

    def point(index: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * index / n
        r = radius * value / 100
        return cx + r * math.cos(angle), cy + r * math.sin(angle)

    for ring in (25, 50, 75, 100):
        ring_points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, ring) for i in range(n)))
        parts.append(f'<polygon points="{ring_points}" fill="none" stroke="#bbbbbb" stroke-width="0.8"/>')
    for index, label in enumerate(labels):
        x, y = point(index, 100)
        parts.append(f'<line x1="{cx}" y1="{cy}" x2="{x:.1f}" y2="{y:.1f}" stroke="#cccccc"/>')
        lx, ly = point(index, 112)
        anchor = "middle" if abs(lx - cx) < 10 else ("start" if lx > cx else "end")
        value = values[index]
        shown = number_format(value, decimal_pos=None, use_l10n=True) if value is not None else _("not assessed")
        lines = [*_wrap(label), f"({shown})"]
        # Above the centre the block grows upwards, below it downwards, level with it: centred.
        if ly < cy - 10:
            first = ly - (len(lines) - 1) * line_height
        elif ly > cy + 10:
            first = ly + line_height * 0.8
        else:
            first = ly - (len(lines) - 1) * line_height / 2
        tspans = "".join(
            f'<tspan x="{lx:.1f}" y="{first + i * line_height:.1f}">{escape(text)}</tspan>' for i, text in enumerate(lines)
        )
        parts.append(f'<text font-size="11" text-anchor="{anchor}">{tspans}</text>')
    shape = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, v or 0) for i, v in enumerate(values)))
    parts.append(f'<polygon points="{shape}" fill="#0d6efd" fill-opacity="0.25" stroke="#0d6efd" stroke-width="2"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text is escaped above


# ---------------------------------------------------------------------------- improvement actions


def improvement_action_add(
    *, actor: Actor, run: ExerciseRun, title: str, due_date: datetime.date | None, owner: Person | None = None,
    owner_label: str = "",
) -> Any:
    """An improvement action with its owner and due date, kept on the exercise crisis
    (written by the crisis report's service, with its checks): open, it appears in the
    gaps of the establishment's plan."""
    exercise = run.exercise
    if not rights.may_animate_run(actor, exercise):
        raise PermissionDenied(_("You are not allowed to write this exercise's report."))
    if run.crisis is None:
        raise ValidationError({"title": [_("Start the exercise first.")]})
    return crisis_report.improvement_action_create(
        actor=actor, crisis=run.crisis, title=title, due_date=due_date, owner=owner, owner_label=owner_label,
        from_exercise_report=True,
    )


def improvement_actions(*, run: ExerciseRun) -> list[Any]:
    if run.crisis is None:
        return []
    return list(crisis_report.improvement_actions_of(crisis=run.crisis))


# ---------------------------------------------------------------------------- questionnaire


def questionnaire_token(*, run: ExerciseRun) -> str:
    return signing.dumps({"run": run.pk}, salt=QUESTIONNAIRE_SALT)


def questionnaire_url(*, run: ExerciseRun) -> str:
    from django.urls import reverse

    base = getattr(settings, "ALERTING_PUBLIC_URL", "")
    return base + reverse("exercises:questionnaire", args=[questionnaire_token(run=run)])


def questionnaire_run(*, token: str) -> ExerciseRun:
    """The run a public link is for; a ValidationError when the link is forged or old."""
    try:
        data = signing.loads(token, salt=QUESTIONNAIRE_SALT, max_age=QUESTIONNAIRE_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ValidationError(_("This questionnaire link has expired.")) from exc
    except signing.BadSignature as exc:
        raise ValidationError(_("This questionnaire link is not valid.")) from exc
    run = ExerciseRun.objects.filter(pk=data.get("run")).select_related("exercise").first()
    if run is None:
        raise ValidationError(_("This questionnaire link is not valid."))
    return run


def questionnaire_answer(
    *, run: ExerciseRun, rating: int, realism: int, went_well: str = "", to_improve: str = "", respondent: str = "",
) -> QuestionnaireAnswer:
    """One participant's answers (anonymous unless they give their name)."""
    errors: dict[str, list[Any]] = {}
    for name, value in (("rating", rating), ("realism", realism)):
        if not isinstance(value, int) or not 1 <= value <= 5:
            errors[name] = [_("Choose a mark from 1 to 5.")]
    if run.status == RunStatus.READY:
        errors.setdefault("rating", []).append(_("The exercise has not started."))
    if len(went_well) > 5000 or len(to_improve) > 5000:
        errors["went_well"] = [_("At most %(max)d characters.") % {"max": 5000}]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        answer = QuestionnaireAnswer.objects.create(
            run=run, rating=rating, realism=realism, went_well=went_well.strip(), to_improve=to_improve.strip(),
            respondent=respondent.strip()[:200],
        )
        audit_record(actor=PUBLIC_QUESTIONNAIRE, action="exercise.questionnaire_answer", obj=answer,
                     establishment=run.exercise.establishment)
    return answer


# ---------------------------------------------------------------------------- report


@dataclass
class TimelineLine:
    at: datetime.datetime
    what: str
    detail: str


def _timeline(run: ExerciseRun) -> list[TimelineLine]:
    from planblanc.crisis.models import LogbookEntry

    lines = []
    for row in InjectRun.objects.filter(run=run).select_related("inject").order_by("fired_at"):
        if row.fired_at is None:
            continue
        lines.append(TimelineLine(row.fired_at, _("Sent: inject %(number)s") % {"number": row.inject.number},
                                  f"{row.inject.subject} ({row.inject.get_channel_display()})"))
        if row.taken_at:
            lines.append(TimelineLine(row.taken_at, _("Taken in hand: inject %(number)s")
                                      % {"number": row.inject.number}, ""))
    if run.crisis_id:
        for entry in LogbookEntry.objects.filter(crisis_id=run.crisis_id).order_by("seq"):
            lines.append(TimelineLine(entry.at, _("Logbook: %(kind)s") % {"kind": entry.get_kind_display()},
                                      entry.text[:300]))
    return sorted(lines, key=lambda line: line.at)


def report_context(*, run: ExerciseRun) -> dict[str, Any]:
    evaluation_compute(run=run)
    scores: Evaluation = evaluation_scores(run=run)
    labels = [criterion.get_area_display() for criterion, _score in scores.by_criterion]
    values = [score.value for _criterion, score in scores.by_criterion]
    answers = list(QuestionnaireAnswer.objects.filter(run=run))
    return {
        "run": run,
        "exercise": run.exercise,
        "scores": scores,
        "radar": radar_svg(labels=labels, values=values),
        "strengths": [(c, s) for c, s in scores.by_criterion if s.value is not None and s.value >= STRENGTH_FROM],
        "weaknesses": [(c, s) for c, s in scores.by_criterion if s.value is not None and s.value < STRENGTH_FROM],
        "timeline": _timeline(run),
        "observations": list(Observation.objects.filter(run=run).select_related("inject", "criterion")),
        "actions": improvement_actions(run=run),
        "answers": answers,
        "answers_mean": round(sum(a.rating for a in answers) / len(answers), 1) if answers else None,
        "injects": list(InjectRun.objects.filter(run=run).select_related("inject").order_by("inject__number")),
    }


PDF_CSS = """
@page { size: A4; margin: 16mm 14mm; @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; } }
body { font-family: sans-serif; font-size: 9.5pt; color: #111; }
h1 { font-size: 16pt; margin: 0 0 4pt; } h2 { font-size: 12pt; margin: 14pt 0 4pt; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #bbb; padding: 2pt 4pt; text-align: left;
vertical-align: top; } .mark { color: #b00; font-weight: bold; letter-spacing: 1pt; } .muted { color: #555; }
"""


def report_pdf(*, actor: Actor, run: ExerciseRun) -> bytes:
    """The lessons-learned report as a PDF (French, A4). The export is audited."""
    from planblanc.core.pdf import render_pdf

    with translation.override("fr"):
        html = render_to_string("exercises/report/pdf.html", {
            **report_context(run=run), "printed_by": user_label(actor), "printed_at": timezone.localtime()})
    content = render_pdf(html=html, css=PDF_CSS)
    audit_record(actor=actor, action="exercise.report_export", obj=run.exercise,
                 establishment=run.exercise.establishment, changes={"bytes": len(content)})
    return content
