"""Alerting: campaigns (mass notification), their recipients as they were at send time,
the outbox of deliveries, every attempt, and acknowledgements.

State lives in these tables; task queues only wake workers. A delivery is one row per
recipient × channel step, written in the same transaction as its campaign (an outbox),
claimed by workers with a lease, retried with back-off, moved to the next provider and
then to the next channel, and ends sent, delivered, acknowledged, failed with a reason
or cancelled — never dropped."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from planblanc.directory.models import Establishment, Language, Person, Region
from planblanc.tenancy import Scope, TenantQuerySet


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    VOICE = "voice", _("Voice call")
    WEBHOOK = "webhook", _("Webhook")
    PUSH = "push", _("Push to the app")
    MATRIX = "matrix", _("Matrix (Tchap)")


class CampaignQuerySet(TenantQuerySet):
    """A campaign hangs from one establishment or from a whole region (ARS)."""

    def _scope_q(self, scope: Scope) -> Q:
        return scope.establishment_q("establishment") | Q(region_id__in=scope.region_ids)


class CampaignStatus(models.TextChoices):
    SENDING = "sending", _("Sending")
    # Everything was handed over, but some people have not acknowledged yet: a campaign
    # that waits for acknowledgements stays open until they do, or until a user closes it.
    OPEN = "open", _("Open: waiting for acknowledgements")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class CampaignMode(models.TextChoices):
    # The next channel only when the previous one failed (a send cancels the later ones).
    FALLBACK = "fallback", _("Next channel when one fails")
    # Every channel of the person at once: a message handed to a relay is not an
    # acknowledgement, so email going out does not stop the SMS and the call.
    PARALLEL = "parallel", _("Every channel at once")


class Priority:
    """Which outbox rows the workers send first. An alert never waits behind a bulk send:
    the workers claim urgent rows before any bulk one, and a bulk batch being sent gives
    way (between two messages) as soon as an urgent row is due. (Plain integers rather
    than IntegerChoices, whose members mypy reads as tuples without the Django plugin.)"""

    URGENT = 0
    # Awareness invitations and reminders: a national round is a million messages.
    BULK = 1
    values = (URGENT, BULK)
    choices = [(URGENT, _("Urgent")), (BULK, _("Bulk"))]


class Campaign(models.Model):
    """A message sent at once to many people (mass notification)."""

    establishment = models.ForeignKey(
        Establishment, on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns",
        verbose_name=_("establishment"),
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns",
        verbose_name=_("region"),
    )
    title = models.CharField(_("title"), max_length=200)
    # Templates with {variables}; see services.TEMPLATE_VARIABLES.
    message_fr = models.TextField(_("message (French)"))
    message_en = models.TextField(_("message (English)"), blank=True)
    is_exercise = models.BooleanField(_("exercise"), default=False)
    priority = models.PositiveSmallIntegerField(_("sending priority"), choices=Priority.choices, default=Priority.URGENT)
    # The channels tried in order for each recipient who has no preference of their own.
    channels = models.JSONField(_("channels"), default=list)
    status = models.CharField(_("status"), max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.SENDING)
    mode = models.CharField(_("channels used"), max_length=10, choices=CampaignMode.choices, default=CampaignMode.FALLBACK)
    # Stays "open" (not "done") until every person alerted has acknowledged, or a user
    # closes it (campaign_close).
    keep_open = models.BooleanField(_("open until acknowledged"), default=False)
    # The question asked (see alerting/answers.py): [] = acknowledgement only; else 2 to 6
    # answers, numbered from 1 in this order ({"kind": "coming"|"cannot"|"remote"|"custom",
    # "label": "…" for a custom one}).
    answers = models.JSONField(_("answers"), default=list, blank=True)
    # Where to go, repeated on the acknowledgement page: {"meeting_place", "fallback_place",
    # "bridge_phone", "bridge_code", "bridge_notes"}.
    rendezvous = models.JSONField(_("meeting point"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.CharField(_("closed by"), max_length=200, blank=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.CheckConstraint(
                condition=Q(establishment__isnull=False, region__isnull=True)
                | Q(establishment__isnull=True, region__isnull=False),
                name="campaign_one_scope",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Recipient(models.Model):
    """Who was to be reached, and how, as it was when the campaign was sent: later
    changes to the directory do not rewrite what was sent."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    person = models.ForeignKey(Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    name = models.CharField(_("name"), max_length=200)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.FRENCH)
    establishment_name = models.CharField(_("establishment"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    mobile_phone = models.CharField(_("mobile phone"), max_length=20, blank=True)
    landline_phone = models.CharField(_("landline phone"), max_length=20, blank=True)
    webhook_url = models.URLField(_("webhook address"), max_length=500, blank=True)
    # A Matrix user ID (direct message) or room ID/alias (a crisis room).
    matrix_id = models.CharField(_("Matrix ID"), max_length=255, blank=True)
    # The channel steps planned for this recipient, in order (one Delivery per step).
    channels = models.JSONField(default=list)
    # Values for this recipient's message ({"link": …}: a personal link, such as an
    # awareness invitation's); empty for most campaigns.
    values = models.JSONField(default=dict, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    # The latest answer to the campaign's question (history in RecipientAnswer).
    answer = models.PositiveSmallIntegerField(_("answer"), null=True, blank=True)
    answer_kind = models.CharField(_("answer"), max_length=10, blank=True)
    answer_minutes = models.PositiveIntegerField(_("arrives in (minutes)"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    # A deputy: alerted only when the holder of their seat declines or stays silent.
    standby = models.BooleanField(_("on standby"), default=False)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")

    def __str__(self) -> str:
        return self.name

    def address_for(self, channel: str) -> str:
        addresses: dict[str, str] = {
            "email": self.email,
            "sms": self.mobile_phone,
            "voice": self.mobile_phone or self.landline_phone,
            "webhook": self.webhook_url,
            # Push goes to every device the person subscribed (PushSubscription).
            "push": f"person:{self.person_id}" if self.person_id else "",
            "matrix": self.matrix_id,
        }
        return addresses.get(str(channel), "")


class DeliveryStatus(models.TextChoices):
    # Waiting for the previous channel step to fail (channel fallback).
    HELD = "held", _("Held")
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    CANCELLED = "cancelled", _("Cancelled")


class Delivery(models.Model):
    """One recipient × one channel step: the outbox row that workers claim."""

    # No index of its own: "delivery_campaign_status" (campaign, status) serves it.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    step = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(_("status"), max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    # The campaign's, copied here so that the workers' claim reads one index (delivery_due).
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.URGENT)
    address = models.CharField(_("address"), max_length=500, blank=True)
    # The provider of the channel's fallback list that the next attempt will use.
    provider_index = models.PositiveSmallIntegerField(default=0)
    # Providers that refused this delivery for good (PermanentError): not tried again.
    refused_by = models.JSONField(default=list)
    provider = models.CharField(_("provider"), max_length=100, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # campaign:recipient:channel:step — the same on every retry, in every process.
    idempotency_key = models.CharField(max_length=100, unique=True)
    # Given to the provider (email Message-ID) so that a re-send after a crash is
    # recognisable as the same message.
    message_id = models.CharField(max_length=200, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        indexes = [
            models.Index(fields=["status", "priority", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["status", "lease_until"], name="delivery_lease"),
            models.Index(fields=["campaign", "status"], name="delivery_campaign_status"),
            models.Index(fields=["provider_message_id"], name="delivery_provider_message"),
        ]

    def __str__(self) -> str:
        return self.idempotency_key


class PendingReceipt(models.Model):
    """A delivery report (Kannel dlr, SMPP receipt) kept until the send it is about is
    committed as "sent". The report and the worker's commit race (the SMSC answers
    within milliseconds); each side writes first and then looks for the other, so
    whichever comes second applies the report. Kept a day, then dropped."""

    channel = models.CharField(max_length=20, choices=Channel.choices)
    provider_message_id = models.CharField(max_length=200, db_index=True)
    delivered = models.BooleanField()
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.provider_message_id


class AttemptOutcome(models.TextChoices):
    SENT = "sent", _("Sent")
    TRANSIENT = "transient", _("Temporary error")
    PERMANENT = "permanent", _("Permanent error")


class DeliveryAttempt(models.Model):
    """Each try of a delivery with one provider: what happened and how long it took."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    provider = models.CharField(max_length=100)
    worker = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=20, choices=AttemptOutcome.choices)
    error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    # A row found "sending" after its worker's lease ran out: this try may repeat a
    # message the provider had accepted just before the worker died.
    after_lost_lease = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.provider} {self.outcome}"


class AckChannel(models.TextChoices):
    LINK = "link", _("Signed link")
    SMS = "sms", _("SMS reply")
    VOICE = "voice", _("Voice keypad")
    APP = "app", _("In the application")
    PUSH = "push", _("Push notification")
    MATRIX = "matrix", _("Matrix reply")


class Acknowledgement(models.Model):
    recipient = models.OneToOneField(Recipient, on_delete=models.CASCADE, related_name="acknowledgement")
    delivery = models.ForeignKey(Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    via = models.CharField(_("by"), max_length=10, choices=AckChannel.choices)
    acknowledged_at = models.DateTimeField(_("acknowledged"))

    def __str__(self) -> str:
        return f"{self.recipient} ({self.via})"


class RecipientAnswer(models.Model):
    """Every answer given, in order (a person may change their mind: "je viens" then
    "je ne peux pas"); Recipient keeps the latest. Written by services.recipient_answer."""

    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="answer_log")
    delivery = models.ForeignKey(Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    answer = models.PositiveSmallIntegerField(_("answer"))
    kind = models.CharField(max_length=10)
    minutes = models.PositiveIntegerField(null=True, blank=True)
    via = models.CharField(_("by"), max_length=10, choices=AckChannel.choices)
    answered_at = models.DateTimeField(_("answered"))

    class Meta:
        ordering = ["answered_at", "id"]

    def __str__(self) -> str:
        return f"{self.recipient_id}: {self.answer} ({self.via})"


class CampaignSeat(models.Model):
    """A seat to fill (a crisis cell seat): its holder and deputies among the campaign's
    recipients. The deputies are on standby; a FollowUp of kind "standby" alerts them
    when the holder declines or stays silent."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="seats")
    position = models.PositiveSmallIntegerField(default=0)
    key = models.CharField(max_length=100, blank=True)
    title = models.CharField(_("seat"), max_length=200)
    group = models.CharField(_("cell"), max_length=100, blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title


class CampaignSeatMember(models.Model):
    seat = models.ForeignKey(CampaignSeat, on_delete=models.CASCADE, related_name="members")
    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="seat_memberships")
    # 0 = holder, 1 = first deputy, …
    rank = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["rank", "id"]
        constraints = [models.UniqueConstraint(fields=["seat", "rank"], name="seat_member_rank")]

    def __str__(self) -> str:
        return f"{self.seat_id}#{self.rank}"



# On-call rotations (astreintes) ------------------------------------------------------------


class RotationPeriod(models.TextChoices):
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly")


class OnCallRotation(models.Model):
    """An on-call rotation (astreinte): its members take turns, one shift each, the
    shift changing hands at `handoff_time` local time (so that the change of hour in
    March and October moves nothing on the wall clock)."""

    establishment = models.ForeignKey(
        Establishment, on_delete=models.PROTECT, related_name="oncall_rotations", verbose_name=_("establishment"),
    )
    name = models.CharField(_("name"), max_length=200)
    period = models.CharField(_("period"), max_length=10, choices=RotationPeriod.choices, default=RotationPeriod.WEEKLY)
    handoff_time = models.TimeField(_("handoff time"))
    timezone = models.CharField(_("time zone"), max_length=64, default="Europe/Paris")
    # The date of the first member's first shift (a Monday for a weekly rotation, usually).
    starts_on = models.DateField(_("first shift on"))
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="establishment")

    class Meta:
        ordering = ["establishment__name", "name", "id"]
        verbose_name = _("on-call rotation")
        verbose_name_plural = _("on-call rotations")

    def __str__(self) -> str:
        return self.name


class OnCallMember(models.Model):
    rotation = models.ForeignKey(OnCallRotation, on_delete=models.CASCADE, related_name="members")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+", verbose_name=_("person"))
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["rotation", "position"], name="oncall_member_position"),
        ]

    def __str__(self) -> str:
        return f"{self.rotation_id}#{self.position}"


class OverrideKind(models.TextChoices):
    OVERRIDE = "override", _("Override")
    SWAP = "swap", _("Swap")


class OnCallOverride(models.Model):
    """Someone takes the rotation from `starts_at` to `ends_at` (a replacement, or one
    half of a swap). The latest written wins where two overlap."""

    rotation = models.ForeignKey(OnCallRotation, on_delete=models.CASCADE, related_name="overrides")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+", verbose_name=_("person"))
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("to"))
    kind = models.CharField(max_length=10, choices=OverrideKind.choices, default=OverrideKind.OVERRIDE)
    # The person replaced (for a swap: the other party).
    replaces = models.ForeignKey(Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["rotation", "starts_at", "ends_at"], name="oncall_override_span")]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="oncall_override_order"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.starts_at:%Y-%m-%d %H:%M}"


# Escalation --------------------------------------------------------------------------------


class LevelKind(models.TextChoices):
    PERSON = "person", _("A person")
    ROTATION = "rotation", _("Whoever is on call in a rotation")
    GROUP = "group", _("A group of people")


class EscalationPolicy(models.Model):
    """Who is called, in what order, until someone acknowledges."""

    establishment = models.ForeignKey(
        Establishment, on_delete=models.PROTECT, related_name="escalation_policies", verbose_name=_("establishment"),
    )
    name = models.CharField(_("name"), max_length=200)
    channels = models.JSONField(_("channels"), default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="establishment")

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("escalation policy")
        verbose_name_plural = _("escalation policies")

    def __str__(self) -> str:
        return self.name


class EscalationLevel(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(_("who"), max_length=10, choices=LevelKind.choices)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    rotation = models.ForeignKey(OnCallRotation, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    people = models.ManyToManyField(Person, blank=True, related_name="+")
    wait_seconds = models.PositiveIntegerField(_("wait for acknowledgement (seconds)"), default=300)
    # How many more times this level is called before moving on.
    repeats = models.PositiveSmallIntegerField(_("repeats"), default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.policy_id}#{self.position}"


class EscalationStatus(models.TextChoices):
    ACTIVE = "active", _("Escalating")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    EXHAUSTED = "exhausted", _("Nobody acknowledged")
    CANCELLED = "cancelled", _("Cancelled")


class Escalation(models.Model):
    """One alert escalating through a policy. The policy as it was at the start is
    kept in `policy_snapshot`; the state (level, repeat, next step due at) lives here so
    that any worker, after any restart, resumes exactly where the last one stopped.
    `step_seq` counts the steps taken: a worker advances the row only with a
    conditional UPDATE on it, so two workers never take the same step."""

    establishment = models.ForeignKey(
        Establishment, on_delete=models.PROTECT, related_name="escalations", verbose_name=_("establishment"),
    )
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    policy_snapshot = models.JSONField(default=dict)
    title = models.CharField(_("title"), max_length=200)
    message = models.TextField(_("message"))
    is_exercise = models.BooleanField(_("exercise"), default=False)
    status = models.CharField(
        _("status"), max_length=20, choices=EscalationStatus.choices, default=EscalationStatus.ACTIVE
    )
    level = models.PositiveSmallIntegerField(_("level"), default=0)
    repeat = models.PositiveSmallIntegerField(_("repeat"), default=0)
    step_seq = models.PositiveIntegerField(default=0)
    next_step_due_at = models.DateTimeField(_("next step"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=200, blank=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="establishment")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        indexes = [models.Index(fields=["status", "next_step_due_at"], name="escalation_due")]

    def __str__(self) -> str:
        return self.title


class EscalationStep(models.Model):
    """A step taken: which level and repeat was called, when it was due, and the
    campaign (outbox) it wrote, in the same transaction as the state's advance."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="steps")
    seq = models.PositiveIntegerField()
    level = models.PositiveSmallIntegerField()
    repeat = models.PositiveSmallIntegerField()
    due_at = models.DateTimeField()
    taken_at = models.DateTimeField()
    worker = models.CharField(max_length=100, blank=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    targets = models.JSONField(default=list)

    class Meta:
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["escalation", "seq"], name="escalation_step_once")]

    def __str__(self) -> str:
        return f"{self.escalation_id}.{self.seq}"


# Follow-up steps ("SMS first, then voice to those who have not acknowledged") ------------


class FollowUpStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")


class FollowUpKind(models.TextChoices):
    CHANNEL = "channel", _("Another channel")
    STANDBY = "standby", _("Deputies")


class FollowUp(models.Model):
    """A later step of a campaign, taken once by a worker (conditional UPDATE) at
    `due_at`; see alerting/followup.py. Kind "channel": another channel, for the
    recipients who have not acknowledged by then. Kind "standby": the deputies of
    `seat`, if its holder has declined or not acknowledged by then (a decline brings
    `due_at` forward to the moment of the answer)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="followups")
    kind = models.CharField(max_length=10, choices=FollowUpKind.choices, default=FollowUpKind.CHANNEL)
    seat = models.OneToOneField(CampaignSeat, on_delete=models.CASCADE, null=True, blank=True, related_name="standby")
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, blank=True)
    due_at = models.DateTimeField(_("due at"))
    status = models.CharField(_("status"), max_length=20, choices=FollowUpStatus.choices, default=FollowUpStatus.PENDING)
    taken_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    recipients_count = models.PositiveIntegerField(_("recipients"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        indexes = [models.Index(fields=["status", "due_at"], name="followup_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "channel"], condition=Q(kind="channel"), name="followup_once_per_channel",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.channel} {self.due_at:%H:%M}"


class ContactPreference(models.Model):
    """How one person wants to be reached (préférences de contact)."""

    person = models.OneToOneField(
        Person, on_delete=models.CASCADE, related_name="contact_preference", verbose_name=_("person"),
    )
    # Channel values in order of preference; empty means the campaign's plan.
    channels = models.JSONField(_("channels, in order"), default=list, blank=True)
    quiet_from = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_until = models.TimeField(_("quiet hours until"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("contact preference")
        verbose_name_plural = _("contact preferences")

    def __str__(self) -> str:
        return f"{self.person_id}: {', '.join(self.channels) or '-'}"

    def in_quiet_hours(self, when: datetime.datetime) -> bool:
        if self.quiet_from is None or self.quiet_until is None or self.quiet_from == self.quiet_until:
            return False
        local = timezone.localtime(when).time()
        if self.quiet_from < self.quiet_until:
            return self.quiet_from <= local < self.quiet_until
        # Across midnight (22:00 → 07:00).
        return local >= self.quiet_from or local < self.quiet_until


# Web Push subscriptions -----------------------------------------------------------------


class PushSubscription(models.Model):
    """One device (browser of an installed app) that accepts Web Push for a person
    (RFC 8030). A person may have several. Removed when its push service says it is
    gone (404/410) or when the person removes it."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    endpoint = models.URLField(_("push address"), max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(_("device"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("added"), auto_now_add=True)
    last_success_at = models.DateTimeField(_("last notification"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")

    def __str__(self) -> str:
        return self.user_agent or self.endpoint[:60]

    def as_info(self) -> dict[str, object]:
        """The shape pywebpush takes (and PushSubscription.toJSON() gives)."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


class ChatRoom(models.Model):
    """A Matrix room opened for a crisis (its cell invited): replies there are about
    that crisis."""

    room_id = models.CharField(max_length=255, unique=True)
    crisis = models.ForeignKey("crisis.Crisis", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.room_id


class ChatSyncPoint(models.Model):
    """Where the Matrix reader resumes (the homeserver's sync token), in the database so
    that whichever worker holds the reader's lease, on any machine, goes on from it."""

    name = models.CharField(max_length=100, primary_key=True)
    token = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class ProviderPace(models.Model):
    """The next free sending slot of a provider, shared by every worker (see
    alerting/capacity.py): seconds since the epoch."""

    name = models.CharField(max_length=100, primary_key=True)
    next_at = models.FloatField(default=0)

    def __str__(self) -> str:
        return self.name
