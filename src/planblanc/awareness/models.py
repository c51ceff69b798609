"""Yearly awareness campaigns: who must take which module by when, and what they scored."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from planblanc.directory.models import Department, Establishment, Group, Person, Region
from planblanc.tenancy import TenantQuerySet


class InvitationChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


def _reminder_days() -> int:
    return int(getattr(settings, "AWARENESS_REMINDER_DAYS", 7))


class LaunchState(models.TextChoices):
    # Campaigns and assignments being written, establishment by establishment.
    PREPARING = "preparing", _("Preparing")
    READY = "ready", _("Ready")
    # Invitations being written into the alerting outbox, campaign by campaign.
    INVITING = "inviting", _("Sending the invitations")
    INVITED = "invited", _("Invitations sent")


class CampaignLaunch(models.Model):
    """One campaign launched at once for every establishment of a group (GHT), of a region,
    or of the country (neither): each establishment gets its own Campaign row.

    A national launch writes millions of rows: the campaigns are prepared, then the
    invitations written, by background steps that each commit a part and can be resumed
    (`state`, `prepared`, `invite_cursor`), while the page shows the progress."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                              verbose_name=_("hospital group (GHT)"))
    region = models.ForeignKey(Region, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                               verbose_name=_("region"))
    year = models.PositiveSmallIntegerField(_("year"))
    title = models.CharField(_("title"), max_length=200)
    deadline = models.DateField(_("deadline"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    channel = models.CharField(_("invitations by"), max_length=10, choices=InvitationChannel.choices,
                               default=InvitationChannel.EMAIL)
    reminder_days = models.PositiveSmallIntegerField(null=True, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=LaunchState.choices, default=LaunchState.READY)
    # Establishments in scope when launched, and those whose campaign is written.
    establishments = models.PositiveIntegerField(default=0)
    prepared = models.PositiveIntegerField(default=0)
    prepared_at = models.DateTimeField(null=True, blank=True)
    # Invitations: asked for (possibly while preparing), the last campaign invited in this
    # round (campaigns are invited in key order) and the people invited so far.
    invite_requested_at = models.DateTimeField(null=True, blank=True)
    invite_cursor = models.PositiveBigIntegerField(default=0)
    invited_campaigns = models.PositiveIntegerField(default=0)
    invited_people = models.PositiveIntegerField(default=0)
    invited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("group awareness campaign")
        verbose_name_plural = _("group awareness campaigns")

    def __str__(self) -> str:
        return self.title

    @property
    def working(self) -> bool:
        """Preparation or invitations being written in the background."""
        return self.state in (LaunchState.PREPARING, LaunchState.INVITING)


class Campaign(models.Model):
    """One establishment's awareness campaign of a year: the modules of each audience.

    `people` and `trained` are kept with the assignments (people assigned, people who
    completed every module) so that the observatory reads one row per campaign."""

    establishment = models.ForeignKey(
        Establishment, on_delete=models.CASCADE, related_name="awareness_campaigns", verbose_name=_("establishment")
    )
    year = models.PositiveSmallIntegerField(_("year"))
    title = models.CharField(_("title"), max_length=200)
    deadline = models.DateField(_("deadline"))
    channel = models.CharField(_("invitations by"), max_length=10, choices=InvitationChannel.choices,
                               default=InvitationChannel.EMAIL)
    modules = models.JSONField(_("modules"), default=list)
    invited_at = models.DateTimeField(_("invited"), null=True, blank=True)
    alert_campaign_id = models.PositiveIntegerField(null=True, blank=True)
    launch = models.ForeignKey(CampaignLaunch, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="campaigns")
    # Reminders: sent once, this many days before the deadline, to those not done.
    reminder_days = models.PositiveSmallIntegerField(_("reminder, days before the deadline"),
                                                     default=_reminder_days)
    reminded_at = models.DateTimeField(_("reminded"), null=True, blank=True)
    reminder_alert_id = models.PositiveIntegerField(null=True, blank=True)
    people = models.PositiveIntegerField(default=0)
    trained = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="establishment")

    class Meta:
        ordering = ["-year", "-created_at"]
        indexes = [models.Index(fields=["year", "establishment"], name="awareness_campaign_year")]
        verbose_name = _("awareness campaign")
        verbose_name_plural = _("awareness campaigns")

    def __str__(self) -> str:
        return self.title


class Assignment(models.Model):
    """One person, one module of a campaign; completed once the quiz is passed."""

    # No index of its own: the unique (campaign, person, module) serves it.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="awareness_assignments")
    # The department and audiences when assigned: progress is counted on them.
    department = models.ForeignKey(Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    audiences = models.JSONField(default=list)
    module = models.CharField(_("module"), max_length=50)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    best_score = models.PositiveSmallIntegerField(_("score"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="campaign__establishment")

    class Meta:
        ordering = ["campaign", "person", "module"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "person", "module"], name="awareness_assignment_unique"),
        ]
        indexes = [models.Index(fields=["campaign", "department"], name="awareness_assign_dept")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.module}"


class Drill(models.Model):
    """A phishing drill: one template sent by email to the people of an establishment."""

    establishment = models.ForeignKey(
        Establishment, on_delete=models.CASCADE, related_name="phishing_drills", verbose_name=_("establishment")
    )
    template = models.CharField(_("template"), max_length=50)
    # Who was chosen: {"kind": "all" | "departments" | "audiences", "ids": [...]} (awareness.drills).
    population = models.JSONField(_("population"), default=dict, blank=True)
    # The establishment's exercise that records this drill (exercises app; no foreign key
    # across apps of the same layer).
    exercise_id = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="establishment")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("phishing drill")
        verbose_name_plural = _("phishing drills")

    def __str__(self) -> str:
        return self.template


class DrillTarget(models.Model):
    """One person of a drill and what happened: only facts and times, never anything typed."""

    drill = models.ForeignKey(Drill, on_delete=models.CASCADE, related_name="targets")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey(Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The drill's outbox: a worker claims unsent rows until claimed_until; a row that
    # the relay refused for good is failed (with the relay's answer, never anything typed).
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    # Opened: the tracking image of the HTML part was fetched (approximate: many mail
    # readers block images, some proxies fetch them all).
    opened_at = models.DateTimeField(null=True, blank=True)
    # Clicked: a person was on the look-alike page (its script saw a touch, a key or the
    # mouse, or they pressed "Continue" without scripts); a link scanner's fetch is not.
    clicked_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)
    # Requests on the personal links that a mail gateway's link scanner or a bot made
    # (drills.is_link_scanner): how many and the first time, counted for nothing else.
    scans = models.PositiveIntegerField(default=0)
    scanned_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="drill__establishment")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["drill", "person"], name="awareness_drill_target_unique")]
        indexes = [models.Index(fields=["drill", "department"], name="awareness_drill_target_dept")]

    def __str__(self) -> str:
        return f"{self.drill_id}:{self.person_id}"
