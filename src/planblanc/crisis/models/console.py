"""The crisis console: a declared crisis, its logbook (main courante), decisions, tasks,
status board of departments and IT systems, damage assessment.

The logbook is append-only and hash-chained (see crisis/chain.py): each entry carries the
hash of the previous one, so that an edited, deleted, inserted or reordered entry is
detected by `logbook_verify`. The database itself refuses UPDATE and DELETE on the
logbook tables (crisis/db_guards.py). Everything else here is ordinary state whose every
change is written to the logbook and the audit log by crisis/services.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from planblanc.directory.models import Department, Establishment, Person
from planblanc.tenancy import TenantQuerySet

GENESIS_HASH = "0" * 64


def _crisis_manager() -> models.Manager:
    return TenantQuerySet.as_manager_for("establishment", path="crisis__establishment")


class CrisisQuerySet(TenantQuerySet):
    """Crises of establishments: a regional crisis cell's row (no establishment) is read
    through its RegionalCrisis, never through the establishment scopes."""

    tenant_kind = "establishment"
    tenant_path = "establishment"

    def visible_to(self, user, perm=None):  # type: ignore[no-untyped-def]
        rows = super().visible_to(user, perm) if perm is not None else super().visible_to(user)
        return rows.filter(establishment__isnull=False)


class CrisisKind(models.TextChoices):
    RANSOMWARE = "ransomware", _("Ransomware")
    DATA_THEFT = "data_theft", _("Data theft")
    ACCOUNT_COMPROMISE = "account_compromise", _("Account compromise")
    PROVIDER_OUTAGE = "provider_outage", _("Provider outage")
    DENIAL_OF_SERVICE = "denial_of_service", _("Denial of service")
    UNKNOWN = "unknown", _("Unknown")


class Severity(models.TextChoices):
    MODERATE = "moderate", _("Moderate")
    SERIOUS = "serious", _("Serious")
    MAJOR = "major", _("Major")
    CRITICAL = "critical", _("Critical")


class CrisisStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    CLOSED = "closed", _("Closed")


class Crisis(models.Model):
    """A declared cyber crisis of one establishment (real, or an exercise).

    A regional crisis cell (mutual_aid.RegionalCrisis) is a crisis of a region instead:
    `establishment` is empty and `region` is set, so that its logbook chain, decisions
    and tasks are this console's. Those rows are reached through the regional cell only:
    the establishment-scoped managers below never list them."""

    establishment = models.ForeignKey(
        Establishment, on_delete=models.PROTECT, related_name="crises", verbose_name=_("establishment"),
        null=True, blank=True,
    )
    region = models.ForeignKey(
        "directory.Region", on_delete=models.PROTECT, related_name="+", null=True, blank=True,
        verbose_name=_("region"),
    )
    kind = models.CharField(_("type"), max_length=30, choices=CrisisKind.choices)
    severity = models.CharField(_("severity"), max_length=20, choices=Severity.choices)
    first_facts = models.TextField(_("first facts"))
    is_exercise = models.BooleanField(_("exercise"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=CrisisStatus.choices, default=CrisisStatus.ACTIVE)
    declared_at = models.DateTimeField(_("declared at"), default=timezone.now)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    declared_by_label = models.CharField(_("declared by"), max_length=200)
    # The approved plan version whose reflex sheets became the tasks (None: no approved plan).
    plan_version = models.ForeignKey(
        "plans.PlanVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    campaign = models.ForeignKey(
        "alerting.Campaign", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("alert to the crisis cell"),
    )
    # The bridge details as they were at the declaration (from the approved plan).
    bridge = models.JSONField(default=dict, blank=True)
    closed_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    closed_by_label = models.CharField(_("ended by"), max_length=200, blank=True)
    # The head of the logbook chain, kept with the crisis so that deleting the last
    # entries is detected too.
    head_seq = models.PositiveIntegerField(default=0)
    head_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    # When the cell last got the periodic logbook digest (crisis/anchoring.py).
    digest_sent_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every change of the console: live pages poll it (ETag) to stay cheap.
    revision = models.PositiveIntegerField(default=0)
    # One stamp per section of the console, so that a poller showing the tasks pays
    # nothing for a change of the status board (the logbook's stamp is head_seq).
    tasks_rev = models.PositiveIntegerField(default=0)
    board_rev = models.PositiveIntegerField(default=0)
    decisions_rev = models.PositiveIntegerField(default=0)
    damage_rev = models.PositiveIntegerField(default=0)

    objects = CrisisQuerySet.as_manager()

    class Meta:
        ordering = ["-declared_at", "-id"]
        verbose_name = _("crisis")
        verbose_name_plural = _("crises")
        indexes = [models.Index(fields=["establishment", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(establishment__isnull=False) | models.Q(region__isnull=False),
                name="crisis_has_an_owner",
            ),
        ]

    def __str__(self) -> str:
        owner = self.establishment.name if self.establishment_id else str(self.region)
        label = f"{self.get_kind_display()} — {owner} — {self.declared_at:%Y-%m-%d %H:%M}"
        return f"[EXERCICE] {label}" if self.is_exercise else label

    @property
    def is_active(self) -> bool:
        return self.status == CrisisStatus.ACTIVE


class EntryKind(models.TextChoices):
    EVENT = "event", _("Event")
    DECISION = "decision", _("Decision")
    ACTION = "action", _("Action")
    COMMUNICATION = "communication", _("Communication")
    INFORMATION = "information", _("Information")


class LogbookEntry(models.Model):
    """One line of the logbook (main courante). Never changed, never deleted: a
    correction is a new entry that points to the one it corrects."""

    crisis = models.ForeignKey(Crisis, on_delete=models.PROTECT, related_name="entries")
    seq = models.PositiveIntegerField(_("number"))
    at = models.DateTimeField(_("time"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    author_label = models.CharField(_("author"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=EntryKind.choices)
    text = models.TextField(_("text"))
    corrects = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections",
        verbose_name=_("corrects entry"),
    )
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)

    objects = _crisis_manager()

    class Meta:
        ordering = ["seq"]
        verbose_name = _("logbook entry")
        verbose_name_plural = _("logbook entries")
        constraints = [
            # The last guard against a forked chain: two appends can never share a number.
            models.UniqueConstraint(fields=["crisis", "seq"], name="logbook_entry_unique_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.at:%Y-%m-%d %H:%M} {self.get_kind_display()}"


class LogbookAttachment(models.Model):
    """A file attached to an entry, stored under the data dir; its SHA-256 is part of the
    entry's hash."""

    entry = models.ForeignKey(LogbookEntry, on_delete=models.PROTECT, related_name="attachments")
    name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100, blank=True)
    # Relative to settings.DATA_DIR.
    path = models.CharField(max_length=500)

    objects = TenantQuerySet.as_manager_for("establishment", path="entry__crisis__establishment")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class LogbookTimestamp(models.Model):
    """An RFC 3161 timestamp of the logbook head from a timestamping authority."""

    crisis = models.ForeignKey(Crisis, on_delete=models.PROTECT, related_name="timestamps")
    seq = models.PositiveIntegerField()
    entry_hash = models.CharField(max_length=64)
    tsa_url = models.CharField(max_length=500)
    token = models.BinaryField(null=True, blank=True)
    gen_time = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = _crisis_manager()

    class Meta:
        ordering = ["-seq", "-id"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.entry_hash[:12]}"


class Decision(models.Model):
    """The decisions register: what was decided, why, by whom, when."""

    crisis = models.ForeignKey(Crisis, on_delete=models.PROTECT, related_name="decisions")
    text = models.TextField(_("decision"))
    rationale = models.TextField(_("rationale"), blank=True)
    decided_by = models.CharField(_("decided by"), max_length=200)
    decided_at = models.DateTimeField(_("decided at"), default=timezone.now)
    recorded_by_label = models.CharField(max_length=200)
    logbook_entry = models.OneToOneField(LogbookEntry, on_delete=models.PROTECT, related_name="decision")

    objects = _crisis_manager()

    class Meta:
        ordering = ["-decided_at", "-id"]
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")

    def __str__(self) -> str:
        return self.text[:80]


class TaskStatus(models.TextChoices):
    TODO = "todo", _("To do")
    DOING = "doing", _("In progress")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_TASK_STATUSES = (TaskStatus.TODO, TaskStatus.DOING)


class TaskSource(models.TextChoices):
    REFLEX_SHEET = "reflex_sheet", _("Reflex sheet")
    AD_HOC = "ad_hoc", _("Ad hoc")


class CrisisTask(models.Model):
    """A task of the crisis: an action of a reflex sheet of the approved plan, or ad hoc."""

    crisis = models.ForeignKey(Crisis, on_delete=models.PROTECT, related_name="tasks")
    title = models.CharField(_("task"), max_length=500)
    source = models.CharField(_("source"), max_length=20, choices=TaskSource.choices, default=TaskSource.AD_HOC)
    sheet_title = models.CharField(_("reflex sheet"), max_length=200, blank=True)
    phase = models.CharField(_("phase"), max_length=10, blank=True)
    owner_function = models.CharField(_("role"), max_length=30, blank=True)
    owner = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("owner")
    )
    owner_label = models.CharField(_("owner"), max_length=200, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.TODO)
    order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by_label = models.CharField(max_length=200, blank=True)

    objects = _crisis_manager()

    class Meta:
        ordering = ["due_at", "order", "id"]
        verbose_name = _("crisis task")
        verbose_name_plural = _("crisis tasks")

    def __str__(self) -> str:
        return self.title

    def is_overdue(self, now: object = None) -> bool:
        moment = now or timezone.now()
        return self.status in OPEN_TASK_STATUSES and self.due_at is not None and self.due_at < moment  # type: ignore[operator]


class DepartmentState(models.TextChoices):
    NORMAL = "normal", _("Normal")
    DEGRADED = "degraded", _("Degraded mode")
    STOPPED = "stopped", _("Stopped")


class SystemState(models.TextChoices):
    UP = "up", _("Up")
    DOWN = "down", _("Down")
    COMPROMISED = "compromised", _("Compromised")
    ISOLATED = "isolated", _("Isolated")
    RESTORING = "restoring", _("Restoring")
    RESTORED = "restored", _("Restored")


class DepartmentStatus(models.Model):
    """A department's row on the status board."""

    crisis = models.ForeignKey(Crisis, on_delete=models.PROTECT, related_name="department_statuses")
    department = models.ForeignKey(Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    name = models.CharField(_("department"), max_length=200)
    status = models.CharField(_("status"), max_length=10, choices=DepartmentState.choices, default=DepartmentState.NORMAL)
    note = models.CharField(_("note"), max_length=300, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by_label = models.CharField(max_length=200, blank=True)

    objects = _crisis_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("department status")
        verbose_name_plural = _("department statuses")

    def __str__(self) -> str:
        return f"{self.name}: {self.get_status_display()}"


class SystemStatus(models.Model):
    """An IT system's row on the status board (systems of the approved plan, or added)."""

    crisis = models.ForeignKey(Crisis, on_delete=models.PROTECT, related_name="system_statuses")
    name = models.CharField(_("IT system"), max_length=200)
    criticality = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=SystemState.choices, default=SystemState.UP)
    note = models.CharField(_("note"), max_length=300, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by_label = models.CharField(max_length=200, blank=True)

    objects = _crisis_manager()

    class Meta:
        ordering = ["criticality", "name", "id"]
        verbose_name = _("IT system status")
        verbose_name_plural = _("IT system statuses")

    def __str__(self) -> str:
        return f"{self.name}: {self.get_status_display()}"


class StatusChange(models.Model):
    """History of the status board: every change of a department or an IT system."""

    crisis = models.ForeignKey(Crisis, on_delete=models.PROTECT, related_name="status_changes")
    department_status = models.ForeignKey(
        DepartmentStatus, on_delete=models.PROTECT, null=True, blank=True, related_name="history"
    )
    system_status = models.ForeignKey(
        SystemStatus, on_delete=models.PROTECT, null=True, blank=True, related_name="history"
    )
    name = models.CharField(max_length=200)
    from_status = models.CharField(max_length=12)
    to_status = models.CharField(max_length=12)
    note = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    by_label = models.CharField(max_length=200)
    logbook_entry = models.ForeignKey(LogbookEntry, on_delete=models.PROTECT, null=True, related_name="+")

    objects = _crisis_manager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.name}: {self.from_status} → {self.to_status}"


class Answer(models.TextChoices):
    UNKNOWN = "unknown", _("Not known yet")
    YES = "yes", _("Yes")
    NO = "no", _("No")
    PARTLY = "partly", _("Partly")


# The checklist: field name → (label, kind). Kept here so forms, pages and exports agree.
DAMAGE_QUESTIONS: dict[str, tuple[object, str]] = {
    "encryption_scope": (_("Scope of encryption (what is encrypted)"), "text"),
    "directory_compromised": (_("Directory (Active Directory) compromised"), "answer"),
    "backups_intact": (_("Backups intact"), "answer"),
    "backups_isolated": (_("Backups isolated from the network"), "answer"),
    "data_theft_signs": (_("Signs of data theft"), "answer"),
    "affected_systems": (_("Affected systems"), "text"),
    "patients_impacted": (_("Patients impacted"), "text"),
}


class DamageAssessment(models.Model):
    """The damage assessment checklist of a crisis (current answers; see the revisions)."""

    crisis = models.OneToOneField(Crisis, on_delete=models.PROTECT, related_name="damage")
    encryption_scope = models.TextField(_("Scope of encryption (what is encrypted)"), blank=True)
    directory_compromised = models.CharField(max_length=10, choices=Answer.choices, default=Answer.UNKNOWN)
    backups_intact = models.CharField(max_length=10, choices=Answer.choices, default=Answer.UNKNOWN)
    backups_isolated = models.CharField(max_length=10, choices=Answer.choices, default=Answer.UNKNOWN)
    data_theft_signs = models.CharField(max_length=10, choices=Answer.choices, default=Answer.UNKNOWN)
    affected_systems = models.TextField(_("Affected systems"), blank=True)
    patients_impacted = models.TextField(_("Patients impacted"), blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by_label = models.CharField(max_length=200, blank=True)

    objects = _crisis_manager()

    class Meta:
        verbose_name = _("damage assessment")
        verbose_name_plural = _("damage assessments")

    def __str__(self) -> str:
        return str(_("Damage assessment"))


class DamageAssessmentRevision(models.Model):
    """History of the damage assessment: what changed, by whom, when."""

    assessment = models.ForeignKey(DamageAssessment, on_delete=models.PROTECT, related_name="revisions")
    changes = models.JSONField()
    at = models.DateTimeField(default=timezone.now)
    by_label = models.CharField(max_length=200)
    logbook_entry = models.ForeignKey(LogbookEntry, on_delete=models.PROTECT, null=True, related_name="+")

    objects = TenantQuerySet.as_manager_for("establishment", path="assessment__crisis__establishment")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.by_label}"


# The second part of the console (notifications, IOCs, communication, lessons learned).
