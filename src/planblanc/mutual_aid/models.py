"""Mutual aid between establishments, groups (GHT) and the region (ARS).

- Resource: the pooled-resource catalogue of an establishment, a group or a region,
  visible in its region and never outside.
- HelpRequest → AidOffer: a request from an establishment in crisis to its group, its
  region or a named establishment; offers; the requester's choice; delivery; return.
  Each step is written to the logbooks (crisis.services.logbook_record_event) and
  alerted through the alerting engine (AidAlert keeps what was sent and when).
- SituationReport: the points de situation, a time series per establishment in crisis.
- RegionalCrisis: a regional crisis cell, whose logbook, decisions and tasks are a
  region-owned crisis.Crisis row, linking the establishment crises of the region.
- ResponderRoute: which on-call rotation answers for a group or a region.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from planblanc.directory.models import Establishment, Group, Region
from planblanc.tenancy import TenantQuerySet


def new_message_id() -> str:
    """A unique EDXL-RM MessageID."""
    return f"urn:uuid:{uuid.uuid4()}"


class ResourceKind(models.TextChoices):
    PEOPLE = "people", _("People and skills")
    EQUIPMENT = "equipment", _("Equipment")
    SERVICE = "service", _("Service")


class OwnerLevel(models.TextChoices):
    ESTABLISHMENT = "establishment", _("Establishment")
    GROUP = "group", _("Group (GHT)")
    REGION = "region", _("Region (ARS)")


class Resource(models.Model):
    """One entry of the pooled-resource catalogue."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("region"))
    group = models.ForeignKey(
        Group, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("group")
    )
    establishment = models.ForeignKey(
        Establishment, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("establishment"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ResourceKind.choices)
    name = models.CharField(_("resource"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    location = models.CharField(_("where"), max_length=200, blank=True)
    contact = models.CharField(_("who to call"), max_length=200, blank=True)
    contact_phone = models.CharField(_("phone"), max_length=30, blank=True)
    delay = models.CharField(_("delay"), max_length=100, blank=True)
    cost = models.CharField(_("cost"), max_length=100, blank=True)
    agreement = models.CharField(_("agreement reference"), max_length=100, blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    objects = TenantQuerySet.as_manager_for("neighbourhood")

    class Meta:
        ordering = ["kind", "name", "id"]
        verbose_name = _("pooled resource")
        verbose_name_plural = _("pooled resources")
        indexes = [models.Index(fields=["region", "kind"])]

    def __str__(self) -> str:
        return self.name

    @property
    def level(self) -> str:
        if self.establishment_id:
            return OwnerLevel.ESTABLISHMENT
        if self.group_id:
            return OwnerLevel.GROUP
        return OwnerLevel.REGION

    @property
    def owner_label(self) -> str:
        if self.establishment_id:
            return self.establishment.name
        if self.group_id:
            return self.group.name
        return self.region.agency_name or self.region.name


class Urgency(models.TextChoices):
    IMMEDIATE = "immediate", _("Immediate (within the hour)")
    URGENT = "urgent", _("Urgent (within hours)")
    PLANNED = "planned", _("Planned (within days)")


class RequestStatus(models.TextChoices):
    OPEN = "open", _("Waiting for offers")
    OFFERED = "offered", _("Offers received")
    COMMITTED = "committed", _("Accepted, on the way")
    DELIVERED = "delivered", _("Delivered")
    RETURNED = "returned", _("Returned")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_REQUEST_STATUSES = (RequestStatus.OPEN, RequestStatus.OFFERED, RequestStatus.COMMITTED)


class TargetKind(models.TextChoices):
    GROUP = "group", _("My group (GHT)")
    REGION = "region", _("The region (ARS)")
    ESTABLISHMENT = "establishment", _("A named establishment")


class HelpRequest(models.Model):
    """A help request from an establishment (in crisis) — EDXL-RM RequestResource."""

    requester = models.ForeignKey(
        Establishment, on_delete=models.PROTECT, related_name="+", verbose_name=_("requesting establishment")
    )
    crisis = models.ForeignKey(
        "crisis.Crisis", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("crisis")
    )
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    target_kind = models.CharField(_("addressed to"), max_length=20, choices=TargetKind.choices)
    target_group = models.ForeignKey(Group, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    target_region = models.ForeignKey(Region, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    target_establishment = models.ForeignKey(
        Establishment, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("establishment asked"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ResourceKind.choices)
    what = models.CharField(_("what"), max_length=200)
    quantity = models.PositiveIntegerField(_("quantity"))
    urgency = models.CharField(_("urgency"), max_length=20, choices=Urgency.choices)
    deliver_to = models.CharField(_("where to deliver"), max_length=300)
    needed_until = models.DateTimeField(_("needed until"), null=True, blank=True)
    details = models.TextField(_("details"), blank=True)
    is_exercise = models.BooleanField(_("exercise"), default=False)
    status = models.CharField(_("status"), max_length=20, choices=RequestStatus.choices, default=RequestStatus.OPEN)
    created_at = models.DateTimeField(_("asked at"), default=timezone.now)
    created_by_label = models.CharField(_("asked by"), max_length=200)
    # EDXL-RM identifiers: this request's MessageID (also the thread's OriginatingMessageID).
    message_id = models.CharField(max_length=100, unique=True, default=new_message_id)
    # Escalation when nobody answers: the alert level reached and when the next is due.
    answer_due_at = models.DateTimeField(null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    escalation_exhausted = models.BooleanField(default=False)
    first_offer_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager_for("aid_request")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("help request")
        verbose_name_plural = _("help requests")
        indexes = [
            models.Index(fields=["region", "status"]),
            models.Index(fields=["requester", "status"]),
            models.Index(fields=["status", "answer_due_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.what} — {self.requester.name}"

    @property
    def target_label(self) -> str:
        if self.target_kind == TargetKind.GROUP and self.target_group_id:
            return self.target_group.name
        if self.target_kind == TargetKind.ESTABLISHMENT and self.target_establishment_id:
            return self.target_establishment.name
        if self.target_region_id:
            return self.target_region.agency_name or self.target_region.name
        return ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_REQUEST_STATUSES


class OfferStatus(models.TextChoices):
    OFFERED = "offered", _("Offered")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Not retained")
    DELIVERED = "delivered", _("Delivered")
    RETURNED = "returned", _("Returned")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class AidOffer(models.Model):
    """An answer to a help request — EDXL-RM ResponseToRequestResource; once accepted, a
    CommitResource; then its deployment status and return."""

    request = models.ForeignKey(HelpRequest, on_delete=models.PROTECT, related_name="offers")
    level = models.CharField(_("offered by"), max_length=20, choices=OwnerLevel.choices)
    offerer_establishment = models.ForeignKey(
        Establishment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    offerer_group = models.ForeignKey(Group, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    offerer_region = models.ForeignKey(Region, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    offerer_label = models.CharField(_("offered by"), max_length=200)
    resource = models.ForeignKey(
        Resource, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("from the catalogue")
    )
    what = models.CharField(_("what"), max_length=200)
    quantity = models.PositiveIntegerField(_("quantity"))
    conditions = models.CharField(_("conditions"), max_length=300, blank=True)
    arrives_at = models.DateTimeField(_("expected arrival"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=OfferStatus.choices, default=OfferStatus.OFFERED)
    created_at = models.DateTimeField(_("offered at"), default=timezone.now)
    created_by_label = models.CharField(max_length=200)
    message_id = models.CharField(max_length=100, unique=True, default=new_message_id)
    accepted_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager_for("aid_request", path="request")

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("offer")
        verbose_name_plural = _("offers")

    def __str__(self) -> str:
        return f"{self.quantity} × {self.what} — {self.offerer_label}"


class AlertPurpose(models.TextChoices):
    NEW_REQUEST = "new_request", _("New request")
    ESCALATION = "escalation", _("Escalation: no answer")
    OFFER = "offer", _("Offer received")
    ACCEPTED = "accepted", _("Offer accepted")
    REGIONAL = "regional", _("Regional alert")


class AidAlert(models.Model):
    """One alert sent through the alerting engine about mutual aid (the campaign holds
    the deliveries and the acknowledgements)."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    request = models.ForeignKey(HelpRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="alerts")
    regional_crisis = models.ForeignKey(
        "RegionalCrisis", on_delete=models.PROTECT, null=True, blank=True, related_name="alerts"
    )
    purpose = models.CharField(max_length=20, choices=AlertPurpose.choices)
    level = models.PositiveSmallIntegerField(default=0)
    audience = models.CharField(_("to"), max_length=200)
    campaign = models.ForeignKey("alerting.Campaign", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)
    # Why nothing could be sent (no one on call, no address): the board shows it.
    problem = models.CharField(max_length=300, blank=True)

    objects = TenantQuerySet.as_manager_for("regional")

    class Meta:
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} → {self.audience}"


class ResponderRoute(models.Model):
    """Who answers help requests for a group or a region: an on-call rotation (of one of
    its establishments), and how long before the request escalates."""

    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="+")
    group = models.OneToOneField(Group, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    rotation = models.ForeignKey(
        "alerting.OnCallRotation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("on-call rotation"),
    )
    answer_within_minutes = models.PositiveIntegerField(_("answer within (minutes)"), default=30)

    objects = TenantQuerySet.as_manager_for("neighbourhood")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["region"], condition=models.Q(group__isnull=True), name="one_regional_route"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group or self.region}: {self.rotation or '-'}"


class EdStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESTRICTED = "restricted", _("Restricted")
    DIVERTED = "diverted", _("Diverted")


class SituationReport(models.Model):
    """A point de situation of an establishment in crisis."""

    establishment = models.ForeignKey(Establishment, on_delete=models.PROTECT, related_name="+")
    crisis = models.ForeignKey("crisis.Crisis", on_delete=models.PROTECT, related_name="+")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("reported at"), default=timezone.now)
    author_label = models.CharField(_("by"), max_length=200)
    ed_status = models.CharField(_("emergency department"), max_length=20, choices=EdStatus.choices)
    beds_deprogrammed = models.PositiveIntegerField(_("beds deprogrammed"), default=0)
    surgeries_deprogrammed = models.PositiveIntegerField(_("surgeries deprogrammed"), default=0)
    lab_on_paper = models.BooleanField(_("lab on paper"), default=False)
    imaging_on_paper = models.BooleanField(_("imaging on paper"), default=False)
    patients_transferred = models.PositiveIntegerField(_("patients transferred"), default=0)
    needs = models.TextField(_("needs"), blank=True)
    next_report_at = models.DateTimeField(_("next report at"))

    objects = TenantQuerySet.as_manager_for("establishment", path="establishment")

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("situation report")
        verbose_name_plural = _("situation reports")
        indexes = [models.Index(fields=["crisis", "-at"]), models.Index(fields=["region", "-at"])]

    def __str__(self) -> str:
        return f"{self.establishment.name} {self.at:%Y-%m-%d %H:%M}"


class RegionalCrisis(models.Model):
    """A regional crisis cell. Its logbook (hash chain), decisions and tasks are those of
    `crisis`, a Crisis row owned by the region, run with the crisis console's services."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("region"))
    crisis = models.OneToOneField("crisis.Crisis", on_delete=models.PROTECT, related_name="regional_cell")
    title = models.CharField(_("title"), max_length=200)
    is_exercise = models.BooleanField(_("exercise"), default=False)
    report_every_hours = models.PositiveSmallIntegerField(_("situation report every (hours)"), default=4)
    opened_at = models.DateTimeField(default=timezone.now)
    opened_by_label = models.CharField(max_length=200)
    linked = models.ManyToManyField(
        "crisis.Crisis", through="RegionalLink", related_name="regional_cells", blank=True
    )

    objects = TenantQuerySet.as_manager_for("regional")

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("regional crisis")
        verbose_name_plural = _("regional crises")

    def __str__(self) -> str:
        return f"[EXERCICE] {self.title}" if self.is_exercise else self.title


class RegionalLink(models.Model):
    regional_crisis = models.ForeignKey(RegionalCrisis, on_delete=models.CASCADE, related_name="links")
    crisis = models.ForeignKey("crisis.Crisis", on_delete=models.PROTECT, related_name="+")
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["regional_crisis", "crisis"], name="regional_link_once"),
        ]

    def __str__(self) -> str:
        return f"{self.regional_crisis_id} ↔ {self.crisis_id}"


class ResourceImport(models.Model):
    """An uploaded catalogue file between its preview and its confirmation."""

    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    establishment = models.ForeignKey(Establishment, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    uploaded_by = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    filename = models.CharField(max_length=255)
    rows = models.JSONField(default=list)
    errors = models.JSONField(default=list)
    applied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TenantQuerySet.as_manager_for("neighbourhood")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.filename
