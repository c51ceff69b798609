"""Writes for readiness. Each checks the actor's right (tenancy.Perm.ASSESS over the
establishment), validates everything before writing, and records the audit entry in
the same transaction."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record, diff, snapshot
from planblanc.actors import SYSTEM, Actor
from planblanc.directory.models import Establishment, Membership, Person
from planblanc.readiness import ciso_assistant, loader
from planblanc.readiness.loader import ReferentialFileError, ReferentialSpec
from planblanc.readiness.models import (
    Action,
    ActionStatus,
    Answer,
    AnswerLevel,
    AnswerScale,
    Assessment,
    AssessmentSnapshot,
    Evidence,
    GovernanceRecord,
    Measure,
    Referential,
    Theme,
)
from planblanc.readiness.scoring import MeasureResult, Score, compute_score
from planblanc.tenancy import user_label

MAX_EVIDENCE_BYTES = 10 * 1024 * 1024


def _label(actor: Actor) -> str:
    return user_label(actor) if getattr(actor, "is_authenticated", False) else str(actor or "system")


def _user_or_none(actor: Actor) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


# Referentials ---------------------------------------------------------------------------


def referential_save_specs(*, specs: Sequence[ReferentialSpec], actor: Actor = SYSTEM) -> list[Referential]:
    """Write checked specs, all or none. Upsert by slug + version: themes and measures
    are updated by code and id; a measure no longer in the file is deleted, or kept
    inactive when it has already been answered."""
    keys = [(spec.slug, spec.version) for spec in specs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ReferentialFileError([
            _("%(slug)s version %(version)s is given by several files.") % {"slug": s, "version": v}
            for s, v in duplicates
        ])
    saved = []
    with transaction.atomic():
        for spec in specs:
            saved.append(_save_spec(spec, actor))
    return saved


def _save_spec(spec: ReferentialSpec, actor: Actor) -> Referential:
    referential, created = Referential.objects.select_for_update().get_or_create(
        slug=spec.slug, version=spec.version,
        defaults={"name": spec.name, "origin": spec.origin},
    )
    before = {} if created else snapshot(referential)
    referential.name = spec.name
    referential.description = spec.description
    referential.source = spec.source
    referential.origin = spec.origin
    referential.urn = spec.urn
    referential.applies_to = spec.applies_to
    referential.categories = spec.categories
    referential.levels = [{"code": level.code, "label": level.label} for level in spec.levels]
    referential.save()

    scale, _created = AnswerScale.objects.get_or_create(referential=referential)
    existing_levels = {level.code: level for level in scale.levels.all()}
    for position, spec_level in enumerate(spec.scale):
        level = existing_levels.pop(spec_level.code, None) or AnswerLevel(scale=scale, code=spec_level.code)
        level.label, level.value, level.position = spec_level.label, spec_level.value, position
        level.save()
    for level in existing_levels.values():
        if Answer.objects.filter(level=level).exists():
            raise ReferentialFileError(
                _("%(file)s: answer level “%(code)s” is used by answers and cannot be removed; "
                  "publish a new version instead.") % {"file": spec.file, "code": level.code}
            )
        level.delete()

    themes = {theme.code: theme for theme in referential.themes.all()}
    measures = {measure.ref_id: measure for measure in referential.measures.all()}
    position = 0
    for theme_position, theme_spec in enumerate(spec.themes):
        theme = themes.pop(theme_spec.code, None) or Theme(referential=referential, code=theme_spec.code)
        theme.title, theme.position = theme_spec.title, theme_position
        theme.save()
        for measure_spec in theme_spec.measures:
            measure = measures.pop(measure_spec.ref_id, None) or Measure(referential=referential, ref_id=measure_spec.ref_id)
            measure.theme = theme
            measure.title = measure_spec.title
            measure.description = measure_spec.description
            measure.levels = measure_spec.levels
            measure.weight = measure_spec.weight
            measure.urn = measure_spec.urn
            measure.position = position
            measure.is_active = True
            measure.save()
            position += 1
    answered = set(Answer.objects.filter(measure__in=measures.values()).values_list("measure_id", flat=True))
    for measure in measures.values():
        if measure.pk in answered:
            measure.is_active = False
            measure.save(update_fields=["is_active"])
        else:
            measure.delete()
    for theme in themes.values():
        if not theme.measures.exists():
            theme.delete()
    audit_record(
        actor=actor, action="referential.load" if created else "referential.reload", obj=referential,
        changes=diff(before, snapshot(referential)) | {"measures": [None, spec.measure_count], "file": [None, spec.file]},
    )
    return referential


def referentials_load(
    *, paths: Iterable[Path], actor: Actor = SYSTEM, ciso_applies_to: str = "all"
) -> tuple[list[Referential], list[str]]:
    """Read every file (ours or CISO Assistant's), report every problem of every file,
    and write only when there is none. Returns the referentials and the warnings."""
    specs: list[ReferentialSpec] = []
    problems: list[str] = []
    warnings: list[str] = []
    for path in paths:
        try:
            data = loader.read_yaml(Path(path))
            if loader.is_ciso_assistant_library(data):
                spec, found = ciso_assistant.parse_library(data, file=str(path), applies_to=ciso_applies_to)
                warnings.extend(found)
            else:
                spec = loader.parse_referential(data, file=str(path))
            specs.append(spec)
        except ReferentialFileError as exc:
            problems.extend(exc.messages)
    if problems:
        raise ReferentialFileError(problems)
    return referential_save_specs(specs=specs, actor=actor), warnings


def referential_import_ciso_assistant(
    *, path: Path, actor: Actor = SYSTEM, applies_to: str = "all"
) -> tuple[Referential, list[str]]:
    data = loader.read_yaml(Path(path))
    spec, warnings = ciso_assistant.parse_library(data, file=str(path), applies_to=applies_to)
    (referential,) = referential_save_specs(specs=[spec], actor=actor)
    return referential, warnings


# Assessments ----------------------------------------------------------------------------


def assessment_start(*, actor: Actor, establishment: Establishment, referential: Referential) -> Assessment:
    """Start (or return the already started) assessment of an establishment."""
    rights.require_assess(actor, establishment)
    if not referential.applies_to_establishment(establishment):
        raise ValidationError(_("This referential does not apply to %(name)s.") % {"name": establishment.name})
    with transaction.atomic():
        assessment, created = Assessment.objects.get_or_create(
            establishment=establishment, referential=referential,
            defaults={"started_by": _user_or_none(actor), "score": Decimal(0), "scored_at": timezone.now()},
        )
        if created:
            audit_record(actor=actor, action="assessment.start", obj=assessment, establishment=establishment)
    return assessment


def assessment_compute_score(*, assessment: Assessment) -> Score:
    """The score from the current answers (see scoring.py for the rule)."""
    measures = list(assessment.referential.measures.filter(is_active=True).values_list("pk", "weight"))
    answers = {
        row["measure_id"]: row
        for row in Answer.objects.filter(assessment=assessment, is_current=True).values(
            "measure_id", "not_applicable", "level__value"
        )
    }
    results = []
    for measure_id, weight in measures:
        answer = answers.get(measure_id)
        if answer is None:
            results.append(MeasureResult(weight=weight))
        else:
            results.append(MeasureResult(
                weight=weight, value=answer["level__value"], not_applicable=answer["not_applicable"]
            ))
    return compute_score(results)


def _refresh_score(assessment: Assessment) -> Score:
    score = assessment_compute_score(assessment=assessment)
    now = timezone.now()
    assessment.score = score.value
    assessment.scored_at = now
    assessment.save(update_fields=["score", "scored_at"])
    AssessmentSnapshot.objects.update_or_create(
        assessment=assessment, day=timezone.localdate(now),
        defaults={
            "score": score.value if score.value is not None else Decimal(0),
            "answered": score.answered, "applicable": score.applicable,
        },
    )
    return score


def answer_record(
    *,
    actor: Actor,
    assessment: Assessment,
    measure: Measure,
    level_code: str = "",
    not_applicable: bool = False,
    not_applicable_reason: str = "",
    comment: str = "",
) -> Answer:
    """Record a new answer to a measure; the previous one is kept as history."""
    rights.require_assess(actor, assessment.establishment)
    errors: dict[str, list[str]] = {}
    if measure.referential_id != assessment.referential_id or not measure.is_active:
        raise ValidationError(_("This measure is not part of the assessed referential."))
    reason = (not_applicable_reason or "").strip()
    level = None
    if not_applicable:
        if not reason:
            errors["not_applicable_reason"] = [_("Say why this measure does not apply.")]
    else:
        if not level_code:
            errors["level"] = [_("Choose a level, or mark the measure not applicable.")]
        else:
            level = AnswerLevel.objects.filter(scale__referential_id=assessment.referential_id, code=level_code).first()
            if level is None:
                errors["level"] = [_("Unknown level “%(code)s” for this referential.") % {"code": level_code}]
        reason = ""
    if len(comment or "") > 5000:
        errors["comment"] = [_("The comment is too long (5,000 characters at most).")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # Serialise answers to one assessment so "current" stays unique and the score fresh.
        locked = Assessment.objects.select_for_update().get(pk=assessment.pk)
        previous = Answer.objects.filter(assessment=locked, measure=measure, is_current=True).first()
        if previous is not None:
            previous.is_current = False
            previous.save(update_fields=["is_current"])
        answer = Answer.objects.create(
            assessment=locked, measure=measure, level=level, not_applicable=not_applicable,
            not_applicable_reason=reason, comment=(comment or "").strip(),
            answered_by=_user_or_none(actor), answered_by_label=_label(actor), answered_at=timezone.now(),
        )
        score = _refresh_score(locked)
        assessment.score, assessment.scored_at = locked.score, locked.scored_at
        audit_record(
            actor=actor, action="assessment.answer", obj=answer, establishment=assessment.establishment,
            label=f"{assessment.referential.slug} {measure.ref_id}",
            changes={
                "measure": [None, measure.ref_id],
                "level": [previous.level.code if previous and previous.level else None, level.code if level else None],
                "not_applicable": [previous.not_applicable if previous else None, not_applicable],
                "score": [None, str(score.value) if score.value is not None else None],
            },
        )
    return answer


def evidence_add(
    *,
    actor: Actor,
    assessment: Assessment,
    measure: Measure,
    title: str = "",
    url: str = "",
    file: UploadedFile | None = None,
    expires_on: datetime.date | None = None,
) -> Evidence:
    """Attach a proof to a measure: a link (http or https) or an uploaded file."""
    rights.require_assess(actor, assessment.establishment)
    if measure.referential_id != assessment.referential_id:
        raise ValidationError(_("This measure is not part of the assessed referential."))
    url = (url or "").strip()
    errors: dict[str, list[str]] = {}
    if bool(url) == bool(file):
        errors["url"] = [_("Give either a link or a file.")]
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            errors["url"] = [_("“%(value)s” is not a web address (it must start with https:// or http://).")
                             % {"value": url[:200]}]
    if file is not None and file.size is not None and file.size > MAX_EVIDENCE_BYTES:
        errors["file"] = [_("The file is larger than 10 MB.")]
    title = (title or "").strip() or (file.name if file is not None else url)[:300]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        evidence = Evidence(
            assessment=assessment, measure=measure, title=title[:300], url=url, expires_on=expires_on,
            added_by=_user_or_none(actor),
        )
        if file is not None:
            evidence.file.save(Path(file.name or "preuve").name, file, save=False)
        evidence.save()
        audit_record(
            actor=actor, action="evidence.add", obj=evidence, establishment=assessment.establishment,
            changes={
                "measure": [None, measure.ref_id], "title": [None, evidence.title], "url": [None, evidence.url],
                "file": [None, evidence.file.name or ""],
                "expires_on": [None, expires_on.isoformat() if expires_on else None],
            },
        )
    return evidence


# Action plan ----------------------------------------------------------------------------

ACTION_FIELDS = ("title", "description", "measure", "owner", "due_on", "status")


def _check_owner(owner: Person | None, establishment: Establishment) -> None:
    if owner is None:
        return
    if not Membership.objects.filter(person=owner, establishment=establishment).exists():
        raise ValidationError({"owner": [_("The owner must work in this establishment.")]})


def _validate_action(action: Action) -> None:
    errors: dict[str, list[str]] = {}
    if not (action.title or "").strip():
        errors["title"] = [_("A title is required.")]
    if action.status not in ActionStatus.values:
        errors["status"] = [_("Unknown status.")]
    if errors:
        raise ValidationError(errors)
    _check_owner(action.owner, action.establishment)


def action_create(*, actor: Actor, establishment: Establishment, data: dict[str, Any]) -> Action:
    rights.require_assess(actor, establishment)
    action = Action(establishment=establishment)
    for name in ACTION_FIELDS:
        if name in data:
            setattr(action, name, data[name])
    action.title = (action.title or "").strip()
    _validate_action(action)
    if action.status in (ActionStatus.DONE, ActionStatus.CANCELLED):
        action.closed_at = timezone.now()
    with transaction.atomic():
        action.save()
        audit_record(actor=actor, action="action.create", obj=action, establishment=establishment,
                     changes=diff({}, snapshot(action)))
    return action


def action_update(*, actor: Actor, action: Action, data: dict[str, Any]) -> Action:
    rights.require_assess(actor, action.establishment)
    before = snapshot(action)
    for name in ACTION_FIELDS:
        if name in data:
            setattr(action, name, data[name])
    action.title = (action.title or "").strip()
    _validate_action(action)
    is_closed = action.status in (ActionStatus.DONE, ActionStatus.CANCELLED)
    if is_closed and action.closed_at is None:
        action.closed_at = timezone.now()
    elif not is_closed:
        action.closed_at = None
    with transaction.atomic():
        action.save()
        audit_record(actor=actor, action="action.update", obj=action, establishment=action.establishment,
                     changes=diff(before, snapshot(action)))
    return action


# Governance -----------------------------------------------------------------------------

GOVERNANCE_FIELDS = (
    "ciso", "ciso_pooled", "dpo", "dpo_pooled", "it_budget", "security_budget",
    "security_in_risk_management", "notes",
)


def _check_officer(person: Person | None, establishment: Establishment, pooled: bool, field: str) -> None:
    """A named officer works in the establishment, or (pooled) anywhere in its group."""
    if person is None:
        return
    where = Q(establishment=establishment)
    if pooled and establishment.group_id:
        where |= Q(establishment__group_id=establishment.group_id)
    if not Membership.objects.filter(where, person=person).exists():
        raise ValidationError({field: [_("%(name)s does not work in this establishment or, when pooled, in its group.")
                                       % {"name": person}]})


def governance_record_save(
    *, actor: Actor, establishment: Establishment, year: int, data: dict[str, Any]
) -> GovernanceRecord:
    """Create or update the governance record of an establishment for a year."""
    rights.require_assess(actor, establishment)
    errors: dict[str, list[str]] = {}
    this_year = timezone.localdate().year
    if not (2000 <= int(year) <= this_year + 1):
        errors["year"] = [_("The year must be between 2000 and %(max)d.") % {"max": this_year + 1}]
    it_budget = data.get("it_budget")
    security_budget = data.get("security_budget")
    for name, value in (("it_budget", it_budget), ("security_budget", security_budget)):
        if value is not None and Decimal(value) < 0:
            errors[name] = [_("A budget cannot be negative.")]
    if it_budget is not None and security_budget is not None and not errors:
        if Decimal(it_budget) == 0 and Decimal(security_budget) > 0:
            errors["security_budget"] = [_("The security budget cannot be more than the IT budget (which is 0).")]
        elif Decimal(security_budget) > Decimal(it_budget):
            share = Decimal(security_budget) * 100 / Decimal(it_budget)
            errors["security_budget"] = [
                _("The security budget is %(share)s %% of the IT budget: it cannot be over 100 %%.")
                % {"share": share.quantize(Decimal("0.1"))}
            ]
    if errors:
        raise ValidationError(errors)
    _check_officer(data.get("ciso"), establishment, bool(data.get("ciso_pooled")), "ciso")
    _check_officer(data.get("dpo"), establishment, bool(data.get("dpo_pooled")), "dpo")
    with transaction.atomic():
        record, created = GovernanceRecord.objects.select_for_update().get_or_create(
            establishment=establishment, year=int(year),
        )
        before = {} if created else snapshot(record)
        for name in GOVERNANCE_FIELDS:
            if name in data:
                setattr(record, name, data[name])
        record.updated_by_label = _label(actor)
        record.save()
        audit_record(
            actor=actor, action="governance.create" if created else "governance.update", obj=record,
            establishment=establishment, changes=diff(before, snapshot(record)),
        )
    return record
