"""Alerting: campaigns (mass notification), their recipients as they were at send time,
the outbox of deliveries, every attempt, and acknowledgements.

State lives in these tables; task queues only wake workers. A delivery is one row per
recipient × channel step, written in the same transaction as its campaign (an outbox),
claimed by workers with a lease, retried with back-off, moved to the next provider and
then to the next channel, and ends sent, delivered, acknowledged, failed with a reason
or cancelled — never dropped."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from planblanc.directory.models import Establishment, Language, Person, Region
from planblanc.tenancy import Scope, TenantQuerySet


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    VOICE = "voice", _("Voice call")
    WEBHOOK = "webhook", _("Webhook")


class CampaignQuerySet(TenantQuerySet):
    """A campaign hangs from one establishment or from a whole region (ARS)."""

    def _scope_q(self, scope: Scope) -> Q:
        return scope.establishment_q("establishment") | Q(region_id__in=scope.region_ids)


class CampaignStatus(models.TextChoices):
    SENDING = "sending", _("Sending")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


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
    # The channels tried in order for each recipient who has no preference of their own.
    channels = models.JSONField(_("channels"), default=list)
    status = models.CharField(_("status"), max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.SENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

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
    # The channel steps planned for this recipient, in order (one Delivery per step).
    channels = models.JSONField(default=list)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)

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

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="deliveries")
    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    step = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(_("status"), max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
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
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["status", "lease_until"], name="delivery_lease"),
            models.Index(fields=["campaign", "status"], name="delivery_campaign_status"),
        ]

    def __str__(self) -> str:
        return self.idempotency_key


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


class Acknowledgement(models.Model):
    recipient = models.OneToOneField(Recipient, on_delete=models.CASCADE, related_name="acknowledgement")
    delivery = models.ForeignKey(Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    via = models.CharField(_("by"), max_length=10, choices=AckChannel.choices)
    acknowledged_at = models.DateTimeField(_("acknowledged"))

    def __str__(self) -> str:
        return f"{self.recipient} ({self.via})"

