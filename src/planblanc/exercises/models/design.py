"""Crisis exercises (exercices de crise): a scenario copied from a kit, its chronogramme
of injects, the expected reactions, the evaluation grid and the participants.

Kits themselves are data files (exercises/data/kits/*.yaml, read by exercises.kits); an
exercise copies its kit into editable rows and remembers the kit's slug."""

from __future__ import annotations

import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _

from planblanc.directory.models import Establishment, Person
from planblanc.tenancy import TenantQuerySet


class MaturityLevel(models.TextChoices):
    BEGINNER = "beginner", _("Beginner")
    INTERMEDIATE = "intermediate", _("Intermediate")
    CONFIRMED = "confirmed", _("Confirmed")


class ExerciseStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PLANNED = "planned", _("Planned")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    FINISHED = "finished", _("Finished")
    CANCELLED = "cancelled", _("Cancelled")


class ExerciseKind(models.TextChoices):
    CRISIS = "crisis", _("Crisis exercise")
    # A phishing drill of the awareness app, recorded here so that it counts as an
    # exercise of the establishment (services.exercise_record_phishing_drill).
    PHISHING_DRILL = "phishing_drill", _("Phishing drill")


class Exercise(models.Model):
    establishment = models.ForeignKey(
        Establishment, on_delete=models.CASCADE, related_name="exercises", verbose_name=_("establishment")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ExerciseKind.choices, default=ExerciseKind.CRISIS)
    kit_slug = models.CharField(_("kit"), max_length=60, blank=True)
    title = models.CharField(_("title"), max_length=200)
    maturity_level = models.CharField(
        _("maturity level"), max_length=20, choices=MaturityLevel.choices, default=MaturityLevel.BEGINNER
    )
    objectives = models.TextField(_("objectives"), blank=True)
    scenario = models.TextField(_("scenario"), blank=True)
    planned_start = models.DateTimeField(_("planned start"), null=True, blank=True)
    planned_duration = models.DurationField(_("planned duration"), null=True, blank=True)
    location = models.CharField(_("place"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=ExerciseStatus.choices, default=ExerciseStatus.DRAFT)
    counts_for_obligation = models.BooleanField(
        _("counts for the yearly obligation"), default=True,
        help_text=_("Establishments must run a cyber crisis exercise every year."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="establishment")

    class Meta:
        ordering = ["-planned_start", "-id"]
        verbose_name = _("crisis exercise")
        verbose_name_plural = _("crisis exercises")

    def __str__(self) -> str:
        return self.title


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    VOICE = "voice", _("Voice message")
    PHONE_CALL = "phone_call", _("Simulated phone call (by an animator)")
    ORAL = "oral", _("Oral")
    PRESS_ARTICLE = "press_article", _("Fake press article")
    SOCIAL_POST = "social_post", _("Fake social-media post")
    PRESS_CALL = "press_call", _("Journalist's call (simulated)")


# Injects shown in the players' public feed (media and social-network pressure), not in
# their inbox.
FEED_CHANNELS = (Channel.PRESS_ARTICLE, Channel.SOCIAL_POST, Channel.PRESS_CALL)


class InjectKind(models.TextChoices):
    STRUCTURING = "structuring", _("Structuring")
    SATURATING = "saturating", _("Saturating")
    NOISE = "noise", _("Background noise")


class Inject(models.Model):
    """One stimulus of the chronogramme. Its time is an offset from the exercise start,
    or an absolute time (kits written for a given day)."""

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="injects")
    number = models.PositiveIntegerField(_("number"))
    phase = models.CharField(_("phase"), max_length=200, blank=True)
    offset = models.DurationField(_("time from start"), null=True, blank=True)
    scheduled_at = models.DateTimeField(_("absolute time"), null=True, blank=True)
    # Time in the story ("heure simulée", e.g. "12H30 (08/08/2024)"), shown to players; the
    # schedule is `offset`.
    story_time = models.CharField(_("simulated time (story)"), max_length=60, blank=True)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, default=Channel.EMAIL)
    sender = models.CharField(_("simulated sender"), max_length=200, blank=True)
    target_cell = models.CharField(_("target cell"), max_length=200, blank=True)
    target_role = models.CharField(_("target role"), max_length=200, blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    content = models.TextField(_("content"), blank=True)
    # Names or descriptions of the documents handed with the inject (fake article, log…).
    attachments = models.JSONField(_("attachments"), default=list, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=InjectKind.choices, default=InjectKind.STRUCTURING)
    animator = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("animator in charge"),
    )
    comment = models.TextField(_("comment for animators"), blank=True)
    deliverable = models.CharField(_("deliverable"), max_length=300, blank=True)
    # Marked excluded in the imported file (❌, "exclu", "annulé"): kept in the scenario,
    # never fired (its run row starts excluded).
    excluded = models.BooleanField(_("excluded"), default=False)
    dependencies = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="dependents",
        verbose_name=_("send only after"),
    )

    objects = TenantQuerySet.as_manager_for("establishment", path="exercise__establishment")

    class Meta:
        ordering = ["offset", "scheduled_at", "number"]
        verbose_name = _("inject")
        verbose_name_plural = _("injects")
        constraints = [models.UniqueConstraint(fields=["exercise", "number"], name="inject_unique_number")]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}".strip()

    def due_offset(self, start: datetime.datetime | None) -> datetime.timedelta | None:
        """Time from the exercise start, whichever way the inject's time was written."""
        if self.offset is not None:
            return self.offset
        if self.scheduled_at is not None and start is not None:
            return self.scheduled_at - start
        return None


class InjectAttachment(models.Model):
    """A file handed with an inject (a fake email's PDF, a photo of a ransom note),
    stored under the data dir with its SHA-256; players see it once the inject is fired."""

    inject = models.ForeignKey(Inject, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    # Relative to settings.DATA_DIR.
    path = models.CharField(max_length=500)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="inject__exercise__establishment")

    class Meta:
        ordering = ["id"]
        verbose_name = _("inject attachment")
        verbose_name_plural = _("inject attachments")

    def __str__(self) -> str:
        return self.name


class MarkerKind(models.TextChoices):
    START = "start", _("Start of the exercise")
    END = "end", _("End of the exercise")
    PAUSE = "pause", _("Pause")
    RESUME = "resume", _("Resumption")
    OTHER = "other", _("Marker")


class TimelineMarker(models.Model):
    """A landmark of the chronogramme (DEBEX, FINEX, a pause): shown on the timeline, never
    sent to players."""

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="markers")
    label = models.CharField(_("label"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=MarkerKind.choices, default=MarkerKind.OTHER)
    offset = models.DurationField(_("time from start"), null=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    objects = TenantQuerySet.as_manager_for("establishment", path="exercise__establishment")

    class Meta:
        ordering = ["offset", "position", "id"]
        verbose_name = _("timeline marker")
        verbose_name_plural = _("timeline markers")

    def __str__(self) -> str:
        return self.label


class ExpectedReaction(models.Model):
    inject = models.ForeignKey(Inject, on_delete=models.CASCADE, related_name="expected_reactions")
    description = models.TextField(_("expected reaction"))
    # How long after the inject the reaction is expected; empty: no deadline.
    deadline = models.DurationField(_("deadline after the inject"), null=True, blank=True)
    cell = models.CharField(_("cell"), max_length=200, blank=True)
    criterion = models.ForeignKey(
        "EvaluationCriterion", on_delete=models.SET_NULL, null=True, blank=True, related_name="expected_reactions",
        verbose_name=_("evaluation criterion"),
    )
    order = models.PositiveIntegerField(default=0)

    objects = TenantQuerySet.as_manager_for("establishment", path="inject__exercise__establishment")

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("expected reaction")
        verbose_name_plural = _("expected reactions")

    def __str__(self) -> str:
        return self.description[:80]


class CriterionArea(models.TextChoices):
    ALERT = "alert", _("Alert and mobilisation")
    ORGANISATION = "organisation", _("Cell organisation")
    ASSESSMENT = "assessment", _("Situation assessment")
    DECISION = "decision", _("Decision making")
    INTERNAL_COMMUNICATION = "internal_communication", _("Internal communication")
    EXTERNAL_COMMUNICATION = "external_communication", _("External communication")
    NOTIFICATIONS = "notifications", _("Regulatory notifications")
    CONTINUITY = "continuity", _("Continuity of care")
    TECHNICAL = "technical", _("Technical response")
    RECOVERY = "recovery", _("Recovery")


class EvaluationCriterion(models.Model):
    """A line of the evaluation grid, scored from 0 to scale_max; descriptors say what
    each score looks like ({"score": 2, "text": "…"})."""

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="criteria")
    area = models.CharField(_("area"), max_length=30, choices=CriterionArea.choices)
    title = models.CharField(_("criterion"), max_length=300)
    scale_max = models.PositiveSmallIntegerField(_("best score"), default=4)
    descriptors = models.JSONField(_("descriptors"), default=list, blank=True)
    order = models.PositiveIntegerField(default=0)

    objects = TenantQuerySet.as_manager_for("establishment", path="exercise__establishment")

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("evaluation criterion")
        verbose_name_plural = _("evaluation criteria")

    def __str__(self) -> str:
        return self.title


class ParticipantRole(models.TextChoices):
    PLAYER = "player", _("Player")
    ANIMATOR = "animator", _("Animator")
    OBSERVER = "observer", _("Observer")


class Participant(models.Model):
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="participants")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="exercise_participations", verbose_name=_("person"))
    role = models.CharField(_("role in the exercise"), max_length=20, choices=ParticipantRole.choices)
    cell = models.CharField(_("cell"), max_length=200, blank=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="exercise__establishment")

    class Meta:
        ordering = ["role", "person__last_name", "person__first_name"]
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        constraints = [models.UniqueConstraint(fields=["exercise", "person"], name="participant_unique_person")]

    def __str__(self) -> str:
        return f"{self.person} ({self.get_role_display()})"

# The live run's tables live in their own module (exercises.run is their service layer).
