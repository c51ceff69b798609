"""Tables of the live run of an exercise (déroulé): the run and its simulated clock, the
state of each inject, observations, the evaluation of expected reactions and the
participants' questionnaire. State lives here so a restarted worker resumes the run."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from planblanc.exercises.models.design import (
    EvaluationCriterion,
    Exercise,
    ExpectedReaction,
    Inject,
)
from planblanc.tenancy import TenantQuerySet

__all__ = [
    "DONE_STATES", "HANDLED_STATES", "ExerciseRun", "InjectRun", "InjectState", "Observation", "Outcome",
    "QuestionnaireAnswer", "ReactionCheck", "RunStatus",
]


class RunStatus(models.TextChoices):
    READY = "ready", _("Ready")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    FINISHED = "finished", _("Finished")


class ExerciseRun(models.Model):
    """The simulated clock: simulated elapsed = sim_base + (now − anchor_at) × speed while
    running, frozen at sim_base while paused. Every pause, resume and change of speed
    moves the anchor, so the simulated time stays continuous; over the whole run this is
    (real elapsed − paused) × speed."""

    exercise = models.OneToOneField(Exercise, on_delete=models.CASCADE, related_name="run")
    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.READY)
    speed = models.PositiveSmallIntegerField(_("speed"), default=1)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    anchor_at = models.DateTimeField(null=True, blank=True)
    sim_base = models.FloatField(default=0.0)
    # [[start, end or null], …] in ISO 8601, real time.
    pauses = models.JSONField(default=list, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    crisis = models.ForeignKey(
        "crisis.Crisis", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("exercise crisis"),
    )
    revision = models.PositiveIntegerField(default=0)

    objects = TenantQuerySet.as_manager_for("establishment", path="exercise__establishment")

    class Meta:
        verbose_name = _("exercise run")
        verbose_name_plural = _("exercise runs")
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.exercise} ({self.get_status_display()})"

    def simulated_seconds(self, now: datetime.datetime | None = None) -> float:
        if self.anchor_at is None:
            return self.sim_base
        if self.status != RunStatus.RUNNING:
            return self.sim_base
        now = now or timezone.now()
        return self.sim_base + max(0.0, (now - self.anchor_at).total_seconds()) * self.speed

    def simulated_time(self, now: datetime.datetime | None = None) -> datetime.datetime | None:
        """The simulated wall-clock time: the exercise's start plus the simulated elapsed."""
        if self.started_at is None:
            return None
        origin = self.exercise.planned_start or self.started_at
        return origin + datetime.timedelta(seconds=self.simulated_seconds(now))

    def paused_seconds(self, now: datetime.datetime | None = None) -> float:
        now = now or timezone.now()
        total = 0.0
        for start, end in self.pauses:
            begin = datetime.datetime.fromisoformat(start)
            finish = datetime.datetime.fromisoformat(end) if end else now
            total += max(0.0, (finish - begin).total_seconds())
        return total


class InjectState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    TAKEN = "taken", _("Taken in hand")
    EXCLUDED = "excluded", _("Excluded")
    SKIPPED = "skipped", _("Skipped")


# Injects whose dependents may go: the players have it (sent) or handled it (taken).
HANDLED_STATES = (InjectState.TAKEN,)
DONE_STATES = (InjectState.SENT, InjectState.TAKEN)


class InjectRun(models.Model):
    """One inject in the run. `idempotency_key` is unique, and firing is a conditional
    UPDATE pending→sent: whoever wins the UPDATE sends, nobody else ever does."""

    run = models.ForeignKey(ExerciseRun, on_delete=models.CASCADE, related_name="injects")
    inject = models.ForeignKey(Inject, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(_("state"), max_length=10, choices=InjectState.choices, default=InjectState.PENDING)
    # When it falls due, in simulated seconds from the start (None: fired by hand only).
    due_seconds = models.FloatField(null=True, blank=True)
    fired_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    fired_sim_seconds = models.FloatField(null=True, blank=True)
    # The real time at which it fell due (for the lag measured by the bench).
    due_real_at = models.DateTimeField(null=True, blank=True)
    fired_by_label = models.CharField(_("sent by"), max_length=200, blank=True)
    taken_at = models.DateTimeField(_("taken in hand at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    campaign = models.ForeignKey("alerting.Campaign", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+")
    idempotency_key = models.CharField(max_length=80, unique=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="run__exercise__establishment")

    class Meta:
        ordering = ["due_seconds", "inject__number"]
        verbose_name = _("inject in the run")
        verbose_name_plural = _("injects in the run")
        constraints = [models.UniqueConstraint(fields=["run", "inject"], name="inject_run_unique")]
        indexes = [models.Index(fields=["run", "state"])]

    def __str__(self) -> str:
        return f"{self.inject} — {self.get_state_display()}"


class Observation(models.Model):
    run = models.ForeignKey(ExerciseRun, on_delete=models.CASCADE, related_name="observations")
    inject = models.ForeignKey(Inject, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                               verbose_name=_("inject"))
    criterion = models.ForeignKey(EvaluationCriterion, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+", verbose_name=_("criterion"))
    text = models.TextField(_("observation"))
    at = models.DateTimeField(_("real time"), default=timezone.now)
    sim_seconds = models.FloatField(default=0.0)
    author_label = models.CharField(_("observer"), max_length=200)

    objects = TenantQuerySet.as_manager_for("establishment", path="run__exercise__establishment")

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("observation")
        verbose_name_plural = _("observations")

    def __str__(self) -> str:
        return self.text[:80]


class Outcome(models.TextChoices):
    DONE = "done", _("Done")
    LATE = "late", _("Late")
    MISSED = "missed", _("Missed")


class ReactionCheck(models.Model):
    """An expected reaction ticked done / late / missed, by the platform (auto) or by
    an observer."""

    run = models.ForeignKey(ExerciseRun, on_delete=models.CASCADE, related_name="checks")
    reaction = models.ForeignKey(ExpectedReaction, on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    automatic = models.BooleanField(default=False)
    note = models.TextField(_("note"), blank=True)
    by_label = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(default=timezone.now)

    objects = TenantQuerySet.as_manager_for("establishment", path="run__exercise__establishment")

    class Meta:
        verbose_name = _("expected reaction check")
        verbose_name_plural = _("expected reaction checks")
        constraints = [models.UniqueConstraint(fields=["run", "reaction"], name="reaction_check_unique")]

    def __str__(self) -> str:
        return f"{self.reaction} — {self.outcome}"


class QuestionnaireAnswer(models.Model):
    """The participants' short questionnaire (questionnaire à chaud)."""

    run = models.ForeignKey(ExerciseRun, on_delete=models.CASCADE, related_name="answers")
    respondent = models.CharField(_("name (optional)"), max_length=200, blank=True)
    rating = models.PositiveSmallIntegerField(_("overall rating (1 to 5)"))
    realism = models.PositiveSmallIntegerField(_("realism of the scenario (1 to 5)"))
    went_well = models.TextField(_("what went well"), blank=True)
    to_improve = models.TextField(_("what should be improved"), blank=True)
    at = models.DateTimeField(default=timezone.now)

    objects = TenantQuerySet.as_manager_for("establishment", path="run__exercise__establishment")

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("questionnaire answer")
        verbose_name_plural = _("questionnaire answers")

    def __str__(self) -> str:
        return f"{self.rating}/5"
