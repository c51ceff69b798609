"""The crisis console, second part: regulatory notifications with their clocks,
indicators of compromise, communication drafts and improvement actions (retour
d'expérience). Loaded by crisis/models.py so that Django registers them with the app."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from planblanc.crisis.models.console import Crisis
from planblanc.directory.models import Person
from planblanc.tenancy import TenantQuerySet

__all__ = [
    "CommunicationDraft", "CommunicationStatus", "ImprovementAction", "ImprovementStatus", "Indicator",
    "IndicatorKind", "NotificationKind", "RegulatoryNotification", "StixIdentity", "Tlp",
]


def _crisis_manager() -> models.Manager:
    return TenantQuerySet.as_manager_for("establishment", path="crisis__establishment")


class NotificationKind(models.TextChoices):
    ARS_CERT_SANTE = "ars_cert_sante", _("Health-sector incident report (ARS and CERT Santé)")
    CNIL = "cnil", _("Personal data breach notification (CNIL)")
    ANSSI = "anssi", _("NIS incident notification (ANSSI)")
    COMPLAINT = "complaint", _("Complaint to the police or gendarmerie")


class RegulatoryNotification(models.Model):
    """One filing of a regulatory notification of a crisis. Filing 1 is the initial one;
    the CNIL takes complementary filings (2, 3 …) once the initial one is sent."""

    crisis = models.ForeignKey(Crisis, on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(_("notification"), max_length=20, choices=NotificationKind.choices)
    filing = models.PositiveSmallIntegerField(_("filing"), default=1)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by_label = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    sent_by_label = models.CharField(_("sent by"), max_length=200, blank=True)
    reference = models.CharField(_("reference"), max_length=200, blank=True)

    objects = _crisis_manager()

    class Meta:
        ordering = ["kind", "filing"]
        verbose_name = _("regulatory notification")
        verbose_name_plural = _("regulatory notifications")
        constraints = [
            models.UniqueConstraint(fields=["crisis", "kind", "filing"], name="notification_unique_filing"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.filing}"

    @property
    def is_sent(self) -> bool:
        return self.sent_at is not None


class IndicatorKind(models.TextChoices):
    IPV4 = "ipv4", _("IPv4 address")
    IPV6 = "ipv6", _("IPv6 address")
    DOMAIN = "domain", _("Domain name")
    URL = "url", _("URL")
    FILE_HASH = "file_hash", _("File hash (MD5, SHA-1 or SHA-256)")
    EMAIL = "email", _("Email address")


class Tlp(models.TextChoices):
    CLEAR = "clear", "TLP:CLEAR"
    GREEN = "green", "TLP:GREEN"
    AMBER = "amber", "TLP:AMBER"
    AMBER_STRICT = "amber+strict", "TLP:AMBER+STRICT"
    RED = "red", "TLP:RED"


class Indicator(models.Model):
    """An indicator of compromise (IOC) seen during the crisis, with its TLP level."""

    crisis = models.ForeignKey(Crisis, on_delete=models.PROTECT, related_name="indicators")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("type"), max_length=12, choices=IndicatorKind.choices)
    value = models.CharField(_("value"), max_length=2000)
    # md5, sha1 or sha256 for a file hash (from its length), empty otherwise.
    hash_algorithm = models.CharField(max_length=10, blank=True)
    tlp = models.CharField(_("TLP"), max_length=12, choices=Tlp.choices, default=Tlp.AMBER)
    description = models.CharField(_("description"), max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by_label = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = _crisis_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("indicator of compromise")
        verbose_name_plural = _("indicators of compromise")
        constraints = [
            models.UniqueConstraint(fields=["crisis", "kind", "value"], name="indicator_unique_value"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class StixIdentity(models.Model):
    """The STIX identifiers of an establishment's exports: random (UUIDv4, as STIX 2.1
    wants for domain objects) and kept, so that every re-export names the same
    identity."""

    establishment = models.OneToOneField("directory.Establishment", on_delete=models.CASCADE,
                                         related_name="+")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta:
        verbose_name = _("STIX identity")
        verbose_name_plural = _("STIX identities")

    def __str__(self) -> str:
        return f"identity--{self.uuid}"


class CommunicationStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved")
    SENT = "sent", _("Sent")


class CommunicationDraft(models.Model):
    """A message to staff, patients, the press or partners, written from a template,
    approved, then sent through the alerting engine."""

    crisis = models.ForeignKey(Crisis, on_delete=models.PROTECT, related_name="communications")
    template_key = models.CharField(_("template"), max_length=60)
    audience = models.CharField(_("audience"), max_length=20)
    title = models.CharField(_("title"), max_length=200)
    message_fr = models.TextField(_("message in French"))
    message_en = models.TextField(_("message in English"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=CommunicationStatus.choices,
                              default=CommunicationStatus.DRAFT)
    created_at = models.DateTimeField(default=timezone.now)
    created_by_label = models.CharField(max_length=200, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by_label = models.CharField(_("approved by"), max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_by_label = models.CharField(max_length=200, blank=True)
    campaign = models.ForeignKey("alerting.Campaign", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+")
    recipient_count = models.PositiveIntegerField(default=0)

    objects = _crisis_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("communication")
        verbose_name_plural = _("communications")

    def __str__(self) -> str:
        return self.title


class ImprovementStatus(models.TextChoices):
    OPEN = "open", _("To do")
    DONE = "done", _("Done")


class ImprovementAction(models.Model):
    """An improvement action from a crisis's lessons learned (retour d'expérience); open
    ones appear in the gaps of the establishment's plan."""

    crisis = models.ForeignKey(Crisis, on_delete=models.PROTECT, related_name="improvement_actions")
    title = models.CharField(_("improvement action"), max_length=500)
    owner = models.ForeignKey(Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                              verbose_name=_("owner"))
    owner_label = models.CharField(_("owner"), max_length=200)
    due_date = models.DateField(_("due date"))
    status = models.CharField(_("status"), max_length=10, choices=ImprovementStatus.choices,
                              default=ImprovementStatus.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    created_by_label = models.CharField(max_length=200, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    objects = _crisis_manager()

    class Meta:
        ordering = ["due_date", "id"]
        verbose_name = _("improvement action")
        verbose_name_plural = _("improvement actions")

    def __str__(self) -> str:
        return self.title
