"""Readiness (préparation): referentials, self-assessments, action plans, governance.

A referential (référentiel) is data: loaded from our YAML files or imported from a CISO
Assistant library (see loader.py and ciso_assistant.py), never edited in the UI. An
establishment assesses itself against it: each answer is a new row (the previous one is
kept, marked not current), so the score's history can be shown; the current score is
also kept on the assessment and in one snapshot per day, so that dashboards aggregate
rows instead of recomputing answers.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from planblanc.directory.models import Establishment, Person
from planblanc.tenancy import TenantQuerySet


class AppliesTo(models.TextChoices):
    ALL = "all", _("All establishments")
    ESSENTIAL_OPERATORS = "essential_operators", _("Essential-services operators (OSE) only")
    CATEGORIES = "categories", _("Some categories of establishments")


class ReferentialOrigin(models.TextChoices):
    PLANBLANC = "planblanc", _("Plan Blanc Numérique file")
    CISO_ASSISTANT = "ciso_assistant", _("CISO Assistant library")


class Referential(models.Model):
    """A set of measures an establishment is held to (hygiene guide, CaRE, NIS …)."""

    slug = models.SlugField(_("identifier"), max_length=100)
    version = models.CharField(_("version"), max_length=40)
    name = models.CharField(_("name"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    source = models.CharField(_("source"), max_length=500, blank=True)
    origin = models.CharField(_("format"), max_length=20, choices=ReferentialOrigin.choices)
    urn = models.CharField(max_length=300, blank=True)
    applies_to = models.CharField(
        _("applies to"), max_length=20, choices=AppliesTo.choices, default=AppliesTo.ALL
    )
    categories = models.JSONField(_("categories"), default=list, blank=True)
    # Measure levels this referential knows (e.g. standard / reinforced, or CISO
    # Assistant's implementation groups), as [{"code", "label"}].
    levels = models.JSONField(default=list, blank=True)
    loaded_at = models.DateTimeField(_("loaded on"), auto_now=True)

    class Meta:
        ordering = ["name", "-version"]
        verbose_name = _("referential")
        verbose_name_plural = _("referentials")
        constraints = [
            models.UniqueConstraint(fields=["slug", "version"], name="referential_unique_version"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.version})"

    def applies_to_establishment(self, establishment: Establishment) -> bool:
        if self.applies_to == AppliesTo.ESSENTIAL_OPERATORS:
            return bool(establishment.is_essential_operator)
        if self.applies_to == AppliesTo.CATEGORIES:
            return establishment.category in (self.categories or [])
        return True

    def level_label(self, code: str) -> str:
        for level in self.levels or []:
            if level.get("code") == code:
                return str(level.get("label") or code)
        return code


class Theme(models.Model):
    referential = models.ForeignKey(Referential, on_delete=models.CASCADE, related_name="themes")
    code = models.CharField(_("code"), max_length=100)
    title = models.CharField(_("title"), max_length=500)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["referential", "position"]
        verbose_name = _("theme")
        verbose_name_plural = _("themes")
        constraints = [
            models.UniqueConstraint(fields=["referential", "code"], name="theme_unique_code"),
        ]

    def __str__(self) -> str:
        return self.title


class Measure(models.Model):
    referential = models.ForeignKey(Referential, on_delete=models.CASCADE, related_name="measures")
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="measures")
    ref_id = models.CharField(_("number"), max_length=100)
    title = models.CharField(_("title"), max_length=500)
    description = models.TextField(_("description"), blank=True)
    # Level codes from Referential.levels (one for ours, several implementation groups
    # for CISO Assistant's).
    levels = models.JSONField(_("levels"), default=list, blank=True)
    weight = models.DecimalField(_("weight"), max_digits=6, decimal_places=2, default=Decimal("1"))
    urn = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=0)
    # A measure dropped by a newer load of the same version but already answered is kept
    # for history and left out of scores.
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["referential", "position"]
        verbose_name = _("measure")
        verbose_name_plural = _("measures")
        constraints = [
            models.UniqueConstraint(fields=["referential", "ref_id"], name="measure_unique_ref_id"),
        ]

    def __str__(self) -> str:
        return f"{self.ref_id} — {self.title}"


class AnswerScale(models.Model):
    """How a referential's measures are answered: ordered levels, each worth 0..1."""

    referential = models.OneToOneField(Referential, on_delete=models.CASCADE, related_name="scale")
    name = models.CharField(_("name"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("answer scale")
        verbose_name_plural = _("answer scales")

    def __str__(self) -> str:
        return self.name or str(self.referential)


class AnswerLevel(models.Model):
    scale = models.ForeignKey(AnswerScale, on_delete=models.CASCADE, related_name="levels")
    code = models.CharField(_("code"), max_length=50)
    label = models.CharField(_("label"), max_length=200)
    # Normalised value: 0 = nothing done, 1 = fully done.
    value = models.DecimalField(_("value"), max_digits=5, decimal_places=4)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["scale", "position"]
        verbose_name = _("answer level")
        verbose_name_plural = _("answer levels")
        constraints = [
            models.UniqueConstraint(fields=["scale", "code"], name="answer_level_unique_code"),
        ]

    def __str__(self) -> str:
        return self.label


class Assessment(models.Model):
    """An establishment's self-assessment (auto-évaluation) against one referential."""

    establishment = models.ForeignKey(
        Establishment, on_delete=models.CASCADE, related_name="assessments", verbose_name=_("establishment")
    )
    referential = models.ForeignKey(
        Referential, on_delete=models.PROTECT, related_name="assessments", verbose_name=_("referential")
    )
    started_at = models.DateTimeField(_("started on"), auto_now_add=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Current score (0..100) and when it was computed, kept so dashboards aggregate rows.
    score = models.DecimalField(_("score"), max_digits=5, decimal_places=2, null=True, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="establishment")

    class Meta:
        ordering = ["establishment", "referential__name"]
        verbose_name = _("assessment")
        verbose_name_plural = _("assessments")
        constraints = [
            models.UniqueConstraint(fields=["establishment", "referential"], name="assessment_unique"),
        ]
        indexes = [models.Index(fields=["referential", "score"], name="assessment_ref_score")]

    def __str__(self) -> str:
        return f"{self.establishment} — {self.referential}"


class Answer(models.Model):
    """One answer to one measure. Answers are appended: the latest is `is_current`."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="answers")
    measure = models.ForeignKey(Measure, on_delete=models.PROTECT, related_name="answers")
    level = models.ForeignKey(
        AnswerLevel, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("level")
    )
    not_applicable = models.BooleanField(_("not applicable"), default=False)
    not_applicable_reason = models.TextField(_("why not applicable"), blank=True)
    comment = models.TextField(_("comment"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answered_by_label = models.CharField(_("answered by"), max_length=200, blank=True)
    answered_at = models.DateTimeField(_("answered on"))
    is_current = models.BooleanField(default=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="assessment__establishment")

    class Meta:
        ordering = ["-answered_at", "-pk"]
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "measure"], condition=models.Q(is_current=True),
                name="answer_one_current",
            ),
            models.CheckConstraint(
                condition=models.Q(not_applicable=False) | ~models.Q(not_applicable_reason=""),
                name="answer_na_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.measure.ref_id}: {self.level or _('not applicable')}"


class Evidence(models.Model):
    """A proof (preuve) for a measure: an uploaded file or a link, possibly expiring."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="evidence")
    measure = models.ForeignKey(Measure, on_delete=models.PROTECT, related_name="evidence")
    title = models.CharField(_("title"), max_length=300)
    # Under MEDIA_ROOT, which is inside the data directory; served only through a view
    # that checks tenancy.
    file = models.FileField(_("file"), upload_to="readiness/evidence/%Y/%m/", blank=True, max_length=300)
    url = models.URLField(_("link"), max_length=1000, blank=True)
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_at = models.DateTimeField(_("added on"), auto_now_add=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="assessment__establishment")

    class Meta:
        ordering = ["-added_at"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")

    def __str__(self) -> str:
        return self.title


class AssessmentSnapshot(models.Model):
    """The score of an assessment on a day (the last computation of that day)."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="snapshots")
    day = models.DateField(_("date"))
    score = models.DecimalField(_("score"), max_digits=5, decimal_places=2)
    answered = models.PositiveIntegerField(default=0)
    applicable = models.PositiveIntegerField(default=0)

    objects = TenantQuerySet.as_manager_for("establishment", path="assessment__establishment")

    class Meta:
        ordering = ["assessment", "day"]
        verbose_name = _("score snapshot")
        verbose_name_plural = _("score snapshots")
        constraints = [
            models.UniqueConstraint(fields=["assessment", "day"], name="snapshot_one_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.assessment} {self.day}: {self.score}"


class ActionStatus(models.TextChoices):
    TODO = "todo", _("To do")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_ACTION_STATUSES = (ActionStatus.TODO, ActionStatus.IN_PROGRESS)


class Action(models.Model):
    """An item of the establishment's action plan (plan d'action)."""

    establishment = models.ForeignKey(
        Establishment, on_delete=models.CASCADE, related_name="readiness_actions", verbose_name=_("establishment")
    )
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    measure = models.ForeignKey(
        Measure, on_delete=models.SET_NULL, null=True, blank=True, related_name="actions", verbose_name=_("measure")
    )
    owner = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="readiness_actions",
        verbose_name=_("owner"),
    )
    due_on = models.DateField(_("due date"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=ActionStatus.choices, default=ActionStatus.TODO)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="establishment")

    class Meta:
        ordering = ["due_on", "pk"]
        verbose_name = _("action")
        verbose_name_plural = _("actions")
        indexes = [models.Index(fields=["establishment", "status"], name="action_estab_status")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ACTION_STATUSES


class GovernanceRecord(models.Model):
    """Governance duties of an establishment for one year: who is CISO and DPO (or
    pooled at group level), the IT and security budgets."""

    establishment = models.ForeignKey(
        Establishment, on_delete=models.CASCADE, related_name="governance_records", verbose_name=_("establishment")
    )
    year = models.PositiveIntegerField(_("year"))
    ciso = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("CISO or security correspondent"),
    )
    ciso_pooled = models.BooleanField(_("CISO pooled at group level"), default=False)
    dpo = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("DPO"),
    )
    dpo_pooled = models.BooleanField(_("DPO pooled at group level"), default=False)
    it_budget = models.DecimalField(_("IT budget (€)"), max_digits=14, decimal_places=2, null=True, blank=True)
    security_budget = models.DecimalField(
        _("security budget (€)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    security_in_risk_management = models.BooleanField(
        _("digital security is in the establishment's risk management"), default=False
    )
    notes = models.TextField(_("notes"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by_label = models.CharField(max_length=200, blank=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="establishment")

    class Meta:
        ordering = ["establishment", "-year"]
        verbose_name = _("governance record")
        verbose_name_plural = _("governance records")
        constraints = [
            models.UniqueConstraint(fields=["establishment", "year"], name="governance_one_per_year"),
        ]

    def __str__(self) -> str:
        return f"{self.establishment} {self.year}"

    @property
    def security_share(self) -> Decimal | None:
        """Security budget as a percentage of the IT budget."""
        if not self.it_budget or self.security_budget is None:
            return None
        return (self.security_budget * 100 / self.it_budget).quantize(Decimal("0.1"))
