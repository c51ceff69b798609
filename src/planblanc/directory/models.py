"""Directory: regions (ARS), groups (GHT), establishments, departments, people and memberships."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from planblanc.directory.fields import FinessField, PhoneField
from planblanc.directory.validators import matrix_id_validate
from planblanc.tenancy import TenantQuerySet


class Region(models.Model):
    """A region and its health agency (ARS)."""

    code = models.CharField(_("code"), max_length=10, unique=True)
    name = models.CharField(_("name"), max_length=200)
    agency_name = models.CharField(_("health agency"), max_length=200, blank=True)

    objects = TenantQuerySet.as_manager_for("region")

    class Meta:
        ordering = ["name"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return self.name


class Group(models.Model):
    """A territorial hospital group (GHT) within one region."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=200)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="groups", verbose_name=_("region"))

    objects = TenantQuerySet.as_manager_for("group")

    class Meta:
        ordering = ["name"]
        verbose_name = _("hospital group (GHT)")
        verbose_name_plural = _("hospital groups (GHT)")

    def __str__(self) -> str:
        return self.name


class EstablishmentCategory(models.TextChoices):
    CHU = "chu", _("University hospital (CHU)")
    CH = "ch", _("Hospital (CH)")
    PSYCHIATRIC = "chs", _("Psychiatric hospital")
    PRIVATE_CLINIC = "clinic", _("Private clinic")
    PRIVATE_NONPROFIT = "espic", _("Private non-profit hospital (ESPIC)")
    CANCER_CENTRE = "clcc", _("Cancer centre (CLCC)")
    REHABILITATION = "smr", _("Rehabilitation (SMR)")
    NURSING_HOME = "ehpad", _("Nursing home (EHPAD)")
    MEDICO_SOCIAL = "essms", _("Other medico-social structure (ESSMS)")
    LABORATORY = "lab", _("Medical laboratory")
    OTHER = "other", _("Other")


class Establishment(models.Model):
    finess = FinessField(_("FINESS number"), unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=10, choices=EstablishmentCategory.choices)
    is_essential_operator = models.BooleanField(
        _("essential-services operator (OSE)"), default=False,
        help_text=_("Designated under the NIS directive: reinforced security rules apply."),
    )
    is_priority = models.BooleanField(
        _("priority establishment"), default=False,
        help_text=_("On the national list of establishments that must be exercised first."),
    )
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="establishments", verbose_name=_("region"))
    group = models.ForeignKey(
        Group, on_delete=models.SET_NULL, null=True, blank=True, related_name="establishments",
        verbose_name=_("hospital group (GHT)"),
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=10, blank=True)
    city = models.CharField(_("city"), max_length=120, blank=True)
    switchboard_phone = PhoneField(_("switchboard"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager_for("establishment")

    class Meta:
        ordering = ["name"]
        verbose_name = _("establishment")
        verbose_name_plural = _("establishments")

    def __str__(self) -> str:
        return self.name


class DepartmentKind(models.TextChoices):
    EMERGENCY = "emergency", _("Emergency")
    INTENSIVE_CARE = "icu", _("Intensive care")
    SURGERY = "surgery", _("Surgery and operating theatres")
    MEDICINE = "medicine", _("Medicine")
    MATERNITY = "maternity", _("Maternity")
    PAEDIATRICS = "paediatrics", _("Paediatrics")
    PSYCHIATRY = "psychiatry", _("Psychiatry")
    LABORATORY = "lab", _("Laboratory")
    PHARMACY = "pharmacy", _("Pharmacy")
    IMAGING = "imaging", _("Imaging")
    ADMISSIONS = "admissions", _("Admissions")
    ONCOLOGY = "oncology", _("Oncology")
    DIALYSIS = "dialysis", _("Dialysis")
    LONG_TERM_CARE = "long_term_care", _("Long-term care / residents")
    IT = "it", _("IT department")
    LOGISTICS = "logistics", _("Logistics")
    MANAGEMENT = "management", _("Management")
    OTHER = "other", _("Other")


class Department(models.Model):
    establishment = models.ForeignKey(
        Establishment, on_delete=models.CASCADE, related_name="departments", verbose_name=_("establishment")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=DepartmentKind.choices)
    name = models.CharField(_("name"), max_length=200)
    phone = PhoneField(_("phone"), blank=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="establishment")

    class Meta:
        ordering = ["name"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        constraints = [
            models.UniqueConstraint(fields=["establishment", "name"], name="department_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Language(models.TextChoices):
    FRENCH = "fr", _("French")
    ENGLISH = "en", _("English")


class Person(models.Model):
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    job_title = models.CharField(_("job"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    mobile_phone = PhoneField(_("mobile phone"), blank=True)
    landline_phone = PhoneField(_("landline phone"), blank=True)
    # Matrix (Tchap) user ID, for alerts by direct message and replies in chat rooms.
    matrix_id = models.CharField(
        _("Matrix ID"), max_length=255, blank=True, validators=[matrix_id_validate],
        help_text=_("For alerts in Matrix or Tchap, e.g. @first.last:matrix.example.org"),
    )
    preferred_language = models.CharField(
        _("preferred language"), max_length=2, choices=Language.choices, default=Language.FRENCH
    )
    user = models.OneToOneField(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="person",
        verbose_name=_("login"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager_for("person")

    class Meta:
        ordering = ["last_name", "first_name"]
        verbose_name = _("person")
        verbose_name_plural = _("people")
        # One person per address within a scope (directory/services.py checks it among
        # the people the writer manages): a platform-wide rule would tell an
        # establishment that an address is used in another tenant.
        indexes = [models.Index(Lower("email"), name="person_email_lower")]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return self.name_of(self.first_name, self.last_name)

    @staticmethod
    def name_of(first_name: str, last_name: str) -> str:
        """How a person is named everywhere: "Camille MARTIN"."""
        return f"{first_name} {last_name.upper()}"


class Function(models.TextChoices):
    """What a person does in an establishment (used by the plan, alert tree and imports)."""

    DIRECTOR = "director", _("Director")
    DEPUTY_DIRECTOR = "deputy_director", _("Deputy director")
    CISO = "ciso", _("CISO (RSSI)")
    DPO = "dpo", _("Data protection officer (DPO)")
    IT_DIRECTOR = "it_director", _("IT director (DSI)")
    MEDICAL_DIRECTOR = "medical_director", _("Medical director")
    NURSING_DIRECTOR = "nursing_director", _("Director of nursing")
    COMMUNICATION = "communication", _("Communication officer")
    ON_CALL_MANAGER = "on_call_manager", _("Manager on call")
    DEPARTMENT_HEAD = "department_head", _("Department head")
    CRISIS_CELL = "crisis_cell", _("Crisis cell member")
    IT_STAFF = "it_staff", _("IT staff")
    STAFF = "staff", _("Staff")


class Membership(models.Model):
    """A person's function in an establishment; one person may hold several."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("person"))
    establishment = models.ForeignKey(
        Establishment, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("establishment")
    )
    function = models.CharField(_("function"), max_length=30, choices=Function.choices)
    department = models.ForeignKey(
        Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="memberships",
        verbose_name=_("department"),
    )

    objects = TenantQuerySet.as_manager_for("establishment", path="establishment")

    class Meta:
        ordering = ["establishment__name", "function"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["person", "establishment", "function"], name="membership_unique_function"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} — {self.get_function_display()} ({self.establishment})"


class ImportKind(models.TextChoices):
    ESTABLISHMENTS = "establishments", _("Establishments")
    PEOPLE = "people", _("People")


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting confirmation")
    APPLIED = "applied", _("Imported")
    CANCELLED = "cancelled", _("Cancelled")


class ImportBatch(models.Model):
    """An uploaded directory file between its preview and its confirmation.

    Only its uploader ever sees it (directory.importing.import_batch_for_user). The parsed
    rows are staged (core.staging) so that the confirmation imports exactly what was
    previewed; they are deleted once the batch is applied or cancelled, or when they
    expire (they hold personal data).
    """

    kind = models.CharField(_("kind"), max_length=20, choices=ImportKind.choices)
    uploaded_by = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="directory_imports", verbose_name=_("uploaded by")
    )
    establishment = models.ForeignKey(
        Establishment, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("establishment"),
        help_text=_("When set, every row must belong to this establishment."),
    )
    filename = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(max_length=64)
    columns = models.JSONField(default=list, blank=True)
    # The parsed rows wait in a staged upload (core.staging) until the batch is confirmed or
    # cancelled, or the staged upload expires.
    staged = models.OneToOneField(
        "core.StagedUpload", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    errors = models.JSONField(default=list, blank=True)
    row_count = models.PositiveIntegerField(default=0)
    status = models.CharField(_("status"), max_length=20, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("directory import")
        verbose_name_plural = _("directory imports")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.filename}"

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The rows read from the file (line number and cells), while the batch is pending."""
        if self.staged_id is None or self.staged is None:
            return []
        return list(self.staged.payload.get("rows", []))

    @property
    def bad_count(self) -> int:
        return len(self.errors)

    @property
    def good_count(self) -> int:
        return self.row_count - len(self.errors)
