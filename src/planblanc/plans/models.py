"""The digital white plan (plan blanc numérique) of an establishment.

The plan's parts are edited as ordinary rows (the working draft). Approval freezes the
whole plan into a PlanVersion: a canonical JSON snapshot that is never changed again,
from which the paper kit, the offline bundle, comparisons and (later) the crisis
console's tasks are made."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from planblanc.directory.fields import PhoneField
from planblanc.directory.models import Department, DepartmentKind, Establishment, Function, Person
from planblanc.plans.durations import HumanDurationField
from planblanc.tenancy import TenantQuerySet


def _plan_manager() -> models.Manager:
    return TenantQuerySet.as_manager_for("establishment", path="plan__establishment")


class Plan(models.Model):
    establishment = models.OneToOneField(
        Establishment, on_delete=models.CASCADE, related_name="plan", verbose_name=_("establishment")
    )
    # Where the crisis cell meets, and how it talks when the building or the phones fail.
    meeting_place = models.CharField(_("meeting place"), max_length=300, blank=True)
    fallback_place = models.CharField(_("fallback meeting place"), max_length=300, blank=True)
    bridge_phone = PhoneField(_("conference bridge number"), blank=True)
    bridge_code = models.CharField(_("conference bridge code"), max_length=50, blank=True)
    bridge_notes = models.CharField(_("other ways to meet (radio, visio…)"), max_length=300, blank=True)
    briefing_rhythm = models.CharField(
        _("rhythm of situation briefings"), max_length=200, blank=True,
        help_text=_("For example: every 2 hours during the first day, then twice a day."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    draft_changed_at = models.DateTimeField(_("draft last changed"), default=timezone.now)
    draft_changed_by = models.CharField(max_length=150, blank=True)
    # The last completeness score (0..100, selectors.GapReport.score), refreshed by every
    # write service and by `plan_completeness_refresh_all`: dashboards over thousands of
    # plans read this column instead of running the gap rules for each plan.
    completeness = models.PositiveSmallIntegerField(_("completeness"), null=True, blank=True)
    completeness_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="establishment")

    class Meta:
        verbose_name = _("white plan")
        verbose_name_plural = _("white plans")

    def __str__(self) -> str:
        return str(_("White plan of %(name)s") % {"name": self.establishment.name})


class PlanVersion(models.Model):
    """An approved, immutable version of a plan."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    snapshot = models.JSONField()
    snapshot_sha256 = models.CharField(max_length=64)
    approved_at = models.DateTimeField(_("approved on"))
    approved_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, related_name="+")
    approved_by_label = models.CharField(_("approved by"), max_length=200)
    note = models.CharField(_("what changed"), max_length=500, blank=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="plan__establishment")

    class Meta:
        ordering = ["-number"]
        verbose_name = _("plan version")
        verbose_name_plural = _("plan versions")
        constraints = [models.UniqueConstraint(fields=["plan", "number"], name="plan_version_unique_number")]

    def __str__(self) -> str:
        return str(_("Version %(number)d") % {"number": self.number})

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None:
            raise PermissionError("an approved plan version cannot be changed")
        super().save(*args, **kwargs)


class CellKind(models.TextChoices):
    STRATEGIC = "strategic", _("Strategic cell (decision)")
    TECHNICAL = "technical", _("Operational cell — IT and technical")
    CARE = "care", _("Operational cell — care and business")


class Seat(models.Model):
    """A seat of the crisis cell: a title, the function it belongs to, a holder, deputies."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="seats")
    cell = models.CharField(_("cell"), max_length=20, choices=CellKind.choices)
    title = models.CharField(_("seat"), max_length=200)
    function = models.CharField(_("function"), max_length=30, choices=Function.choices, blank=True)
    mission = models.TextField(_("mission"), blank=True)
    holder = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("holder")
    )
    order = models.PositiveIntegerField(_("order"), default=0)

    objects = _plan_manager()

    class Meta:
        ordering = ["cell", "order", "id"]
        verbose_name = _("crisis-cell seat")
        verbose_name_plural = _("crisis-cell seats")

    def __str__(self) -> str:
        return self.title


class SeatDeputy(models.Model):
    seat = models.ForeignKey(Seat, on_delete=models.CASCADE, related_name="deputies")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+", verbose_name=_("deputy"))
    rank = models.PositiveIntegerField(_("rank"), default=1)

    class Meta:
        ordering = ["rank", "id"]
        constraints = [models.UniqueConstraint(fields=["seat", "person"], name="seat_deputy_unique")]

    def __str__(self) -> str:
        return f"{self.rank}. {self.person}"


class AlertMeans(models.TextChoices):
    PHONE = "phone", _("Phone call")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    RADIO = "radio", _("Radio")
    IN_PERSON = "in_person", _("In person / runner")
    PLATFORM = "platform", _("Alert from this platform")


class AlertStep(models.Model):
    """One link of the alert tree: who alerts whom, in which order, by which means.
    An empty `from_seat` means whoever detects the incident."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="alert_steps")
    order = models.PositiveIntegerField(_("order"))
    from_seat = models.ForeignKey(
        Seat, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("who alerts")
    )
    to_seat = models.ForeignKey(Seat, on_delete=models.CASCADE, related_name="+", verbose_name=_("who is alerted"))
    means = models.CharField(_("means"), max_length=20, choices=AlertMeans.choices)
    fallback_means = models.CharField(_("fallback means"), max_length=20, choices=AlertMeans.choices, blank=True)
    delay_minutes = models.PositiveIntegerField(_("within (minutes)"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    objects = _plan_manager()

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("alert-tree step")
        verbose_name_plural = _("alert tree")

    def __str__(self) -> str:
        return f"{self.order}. {self.from_seat or _('Whoever detects')} → {self.to_seat}"


class Phase(models.TextChoices):
    FIRST_15_MINUTES = "15min", _("First 15 minutes")
    FIRST_HOUR = "1h", _("First hour")
    FIRST_DAY = "24h", _("First day")
    RECOVERY = "recovery", _("Recovery")


PHASE_DEFAULT_DUE_MINUTES = {"15min": 15, "1h": 60, "24h": 24 * 60, "recovery": 7 * 24 * 60}


class ReflexSheet(models.Model):
    """A reflex sheet (fiche réflexe): the one-page action card of a role."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="reflex_sheets")
    title = models.CharField(_("title"), max_length=200)
    owner_function = models.CharField(
        _("role that owns the sheet"), max_length=30, choices=Function.choices, blank=True
    )
    owner_seat = models.ForeignKey(
        Seat, on_delete=models.SET_NULL, null=True, blank=True, related_name="reflex_sheets",
        verbose_name=_("crisis-cell seat"),
    )
    purpose = models.TextField(_("purpose"), blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)

    objects = _plan_manager()

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("reflex sheet")
        verbose_name_plural = _("reflex sheets")

    def __str__(self) -> str:
        return self.title


class ReflexItem(models.Model):
    sheet = models.ForeignKey(ReflexSheet, on_delete=models.CASCADE, related_name="items")
    phase = models.CharField(_("phase"), max_length=10, choices=Phase.choices)
    order = models.PositiveIntegerField(_("order"), default=0)
    text = models.CharField(_("action"), max_length=500)
    becomes_task = models.BooleanField(_("becomes a task when a crisis is declared"), default=True)
    due_minutes = models.PositiveIntegerField(
        _("due (minutes after the declaration)"), null=True, blank=True,
        help_text=_("Empty: the end of the phase."),
    )

    class Meta:
        ordering = ["phase", "order", "id"]
        verbose_name = _("reflex-sheet action")
        verbose_name_plural = _("reflex-sheet actions")

    def __str__(self) -> str:
        return self.text

    @property
    def due_after_minutes(self) -> int:
        return self.due_minutes if self.due_minutes is not None else PHASE_DEFAULT_DUE_MINUTES[self.phase]


class DegradedProcedure(models.Model):
    """How a department runs without (part of) its IT: mode dégradé."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="degraded_procedures")
    department_kind = models.CharField(_("department"), max_length=20, choices=DepartmentKind.choices)
    department = models.ForeignKey(
        Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("department of this establishment"),
    )
    title = models.CharField(_("title"), max_length=200)
    switch_to_paper = models.TextField(_("what switches to paper"), blank=True)
    paper_forms = models.TextField(_("paper forms to use"), blank=True)
    who_runs = models.TextField(_("who runs it"), blank=True)
    result_flow = models.TextField(
        _("how results and information flow"), blank=True,
        help_text=_("Lab results, prescriptions, admissions, identity vigilance…"),
    )
    return_to_normal = models.TextField(_("return to normal and data re-entry"), blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)

    objects = _plan_manager()

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("degraded-mode procedure")
        verbose_name_plural = _("degraded-mode procedures")

    def __str__(self) -> str:
        return self.title


class Criticality(models.IntegerChoices):
    VITAL = 1, _("Vital")
    HIGH = 2, _("High")
    MEDIUM = 3, _("Medium")
    LOW = 4, _("Low")


class ITSystem(models.Model):
    """An IT system of the inventory, with its backups and their last restore test."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="it_systems")
    name = models.CharField(_("name"), max_length=200)
    description = models.CharField(_("what it does"), max_length=300, blank=True)
    owner = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("owner")
    )
    vendor = models.CharField(_("vendor"), max_length=200, blank=True)
    vendor_contact_24_7 = PhoneField(_("vendor 24/7 contact"), blank=True)
    criticality = models.PositiveSmallIntegerField(_("criticality"), choices=Criticality.choices, default=Criticality.MEDIUM)
    backup_method = models.CharField(_("backup method"), max_length=300, blank=True)
    has_offline_copy = models.BooleanField(_("offline or immutable copy"), default=False)
    last_restore_test = models.DateField(_("last restore test"), null=True, blank=True)
    recovery_order = models.PositiveIntegerField(_("recovery order"), null=True, blank=True)

    objects = _plan_manager()

    class Meta:
        ordering = ["recovery_order", "criticality", "name"]
        verbose_name = _("IT system")
        verbose_name_plural = _("IT systems")

    def __str__(self) -> str:
        return self.name


class CriticalProcess(models.Model):
    """A critical process with its business impact analysis (BIA)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="critical_processes")
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    impact_4h = models.CharField(_("impact after 4 hours"), max_length=300, blank=True)
    impact_24h = models.CharField(_("impact after 24 hours"), max_length=300, blank=True)
    impact_72h = models.CharField(_("impact after 72 hours"), max_length=300, blank=True)
    impact_1w = models.CharField(_("impact after one week"), max_length=300, blank=True)
    max_tolerable_downtime = HumanDurationField(_("maximum tolerable downtime"), null=True, blank=True)
    rto = HumanDurationField(_("RTO (recovery time objective)"), null=True, blank=True)
    rpo = HumanDurationField(_("RPO (maximum data loss)"), null=True, blank=True)
    recovery_order = models.PositiveIntegerField(_("recovery order"), null=True, blank=True)
    systems = models.ManyToManyField(ITSystem, blank=True, related_name="processes", verbose_name=_("IT systems it needs"))

    objects = _plan_manager()

    class Meta:
        ordering = ["recovery_order", "name"]
        verbose_name = _("critical process")
        verbose_name_plural = _("critical processes")

    def __str__(self) -> str:
        return self.name


class ContactKind(models.TextChoices):
    ARS = "ars", _("Regional health agency (ARS)")
    CERT_SANTE = "cert_sante", _("CERT Santé")
    ANSSI = "anssi", _("ANSSI")
    POLICE = "police", _("Police or gendarmerie cyber unit")
    PREFECTURE = "prefecture", _("Prefecture")
    CNIL = "cnil", _("CNIL")
    INSURER = "insurer", _("Cyber insurer")
    IT_VENDOR = "it_vendor", _("IT vendor")
    OUTSOURCER = "outsourcer", _("Outsourcer / managed service")
    NEIGHBOUR = "neighbour", _("Neighbouring establishment (patient transfers)")
    GROUP = "group", _("Hospital group (GHT)")
    PRESS = "press", _("Press office")
    OTHER = "other", _("Other")


class ExternalContact(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="contacts")
    kind = models.CharField(_("kind"), max_length=20, choices=ContactKind.choices)
    organisation = models.CharField(_("organisation"), max_length=200)
    name = models.CharField(_("contact name"), max_length=200, blank=True)
    phone = PhoneField(_("phone"), blank=True)
    phone_24_7 = PhoneField(_("24/7 phone"), blank=True)
    email = models.EmailField(_("email"), blank=True)
    notes = models.CharField(_("notes"), max_length=500, blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)

    objects = _plan_manager()

    class Meta:
        ordering = ["order", "kind", "organisation"]
        verbose_name = _("external contact")
        verbose_name_plural = _("external contacts")

    def __str__(self) -> str:
        return self.organisation


class ResourceKind(models.TextChoices):
    PAPER_FORMS = "paper_forms", _("Stock of paper forms")
    STANDALONE_PC = "standalone_pc", _("Standalone PC (off network)")
    PRINTER = "printer", _("Standalone printer")
    SATELLITE_PHONE = "satellite_phone", _("Satellite phone")
    ANALOGUE_PHONE = "analogue_phone", _("Analogue phone line")
    RADIO = "radio", _("Radio")
    USB_KEY = "usb_key", _("USB key with the offline plan")
    PAPER_KIT = "paper_kit", _("Printed paper kit")
    OTHER = "other", _("Other")


class Resource(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="resources")
    kind = models.CharField(_("kind"), max_length=20, choices=ResourceKind.choices)
    description = models.CharField(_("description"), max_length=300, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    location = models.CharField(_("where"), max_length=300)
    checked_on = models.DateField(_("last checked"), null=True, blank=True)

    objects = _plan_manager()

    class Meta:
        ordering = ["kind", "id"]
        verbose_name = _("resource")
        verbose_name_plural = _("resources")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.location}"


class PlanExport(models.Model):
    """Each print of the paper kit and each offline bundle: who, when, which version."""

    class Kind(models.TextChoices):
        PAPER_KIT = "pdf", _("Paper kit (PDF)")
        OFFLINE_BUNDLE = "bundle", _("Offline bundle (ZIP)")

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="exports")
    version = models.ForeignKey(PlanVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="exports")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, related_name="+")
    by_label = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveIntegerField()

    objects = _plan_manager()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M} {self.by_label}"
