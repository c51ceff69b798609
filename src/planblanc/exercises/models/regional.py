"""Regional simultaneous exercises (exercice régional simultané): one scenario launched
by a regional officer (ARS) or a group CISO (GHT) in several establishments at the same
moment. Each establishment plays its own exercise (its own run, players, observers and
evaluation, counted for its yearly obligation); this table groups them so that one
console follows, pauses, resumes and fires them all, and one report compares them."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from planblanc.directory.models import Establishment, Group, Region
from planblanc.exercises.models.design import Exercise

__all__ = ["RegionalExercise", "RegionalExerciseStatus", "RegionalMember"]


class RegionalExerciseStatus(models.TextChoices):
    # Each establishment's exercise is being written by a worker (the task
    # regional_exercise_prepare, exercises/regional.py).
    PREPARING = "preparing", _("Being prepared")
    PREPARED = "prepared", _("Prepared")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    FINISHED = "finished", _("Finished")


class RegionalExercise(models.Model):
    """Owned by a region, and by a group when a group CISO launched it: regional officers
    of the region see every regional exercise of the region, a group CISO those of the
    group (selectors in exercises/regional.py)."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="regional_exercises",
                               verbose_name=_("region"))
    group = models.ForeignKey(Group, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="regional_exercises", verbose_name=_("group"))
    title = models.CharField(_("title"), max_length=200)
    # Where the scenario came from: a kit's slug, or the exercise used as the model.
    kit_slug = models.CharField(_("kit"), max_length=60, blank=True)
    source_label = models.CharField(_("scenario"), max_length=300, blank=True)
    planned_start = models.DateTimeField(_("planned start"))
    speed = models.PositiveSmallIntegerField(_("speed"), default=1)
    status = models.CharField(_("status"), max_length=10, choices=RegionalExerciseStatus.choices,
                              default=RegionalExerciseStatus.PREPARING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # What every establishment's exercise is written from, fixed when the officer chose it
    # (the model exercise may change afterwards): the chronogramme (JSON exchange format),
    # the model's exact offsets, level, scenario, objectives, the language and the name
    # of the officer the preparation acts for.
    preparation = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    prepared_at = models.DateTimeField(_("prepared at"), null=True, blank=True)
    # The form's one-time key: submitting the same form twice gives the same exercise.
    submission_key = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-planned_start", "-id"]
        verbose_name = _("regional exercise")
        verbose_name_plural = _("regional exercises")
        constraints = [models.UniqueConstraint(
            fields=["created_by", "submission_key"], condition=~Q(submission_key=""),
            name="regional_exercise_unique_submission")]

    def __str__(self) -> str:
        return self.title


class RegionalMember(models.Model):
    """One establishment's exercise within the regional exercise, with the values its
    injects' variables took ({etablissement}, {directeur}, {voisins}…). Written at once
    without its exercise; the preparation task writes the exercise, or the reason it
    could not (`error`), in one transaction per establishment."""

    regional = models.ForeignKey(RegionalExercise, on_delete=models.CASCADE, related_name="members")
    establishment = models.ForeignKey(Establishment, on_delete=models.CASCADE, related_name="+",
                                      verbose_name=_("establishment"))
    exercise = models.OneToOneField(Exercise, on_delete=models.CASCADE, related_name="regional_member",
                                    null=True, blank=True)
    variables = models.JSONField(default=dict, blank=True)
    error = models.TextField(_("preparation error"), blank=True)

    class Meta:
        ordering = ["establishment__name", "pk"]
        verbose_name = _("establishment in a regional exercise")
        verbose_name_plural = _("establishments in a regional exercise")
        constraints = [models.UniqueConstraint(fields=["regional", "establishment"],
                                               name="regional_member_unique")]

    def __str__(self) -> str:
        return f"{self.regional} — {self.establishment}"
