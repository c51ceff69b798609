"""Forms of the white plan's parts. People, departments, seats and IT systems offered in
the choices are only those of the plan's own establishment and plan; the services check
it again."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from planblanc.core.forms import BootstrapFormMixin
from planblanc.directory.fields import PhoneFormField
from planblanc.directory.models import Department, Person
from planblanc.directory.validators import phone_display
from planblanc.plans.models import (
    AlertStep,
    CriticalProcess,
    DegradedProcedure,
    ExternalContact,
    ITSystem,
    Plan,
    ReflexItem,
    ReflexSheet,
    Resource,
    Seat,
)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class PhoneInput(forms.TextInput):
    """Shows a stored +33… number as people read it (01 23 45 67 89)."""

    input_type = "tel"

    def format_value(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("+"):
            try:
                return phone_display(value)
            except Exception:  # a value typed by the user and refused: show it as typed
                return value
        return super().format_value(value)


def _readable_phones(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        if isinstance(field, PhoneFormField):
            field.widget = PhoneInput(attrs=field.widget.attrs)


def people_of(plan: Plan) -> Any:
    return Person.objects.filter(memberships__establishment_id=plan.establishment_id).distinct().order_by(
        "last_name", "first_name"
    )


class PlanPartForm(BootstrapFormMixin, forms.ModelForm):
    """A part of `plan`: choices are limited to the plan's establishment."""

    def __init__(self, *args: Any, plan: Plan, **kwargs: Any) -> None:
        self.plan = plan
        super().__init__(*args, **kwargs)
        _readable_phones(self)
        for field in self.fields.values():
            queryset = getattr(field, "queryset", None)
            if queryset is None:
                continue
            model = queryset.model
            if model is Person:
                field.queryset = people_of(plan)
                field.label_from_instance = lambda p: p.full_name
            elif model is Department:
                field.queryset = Department.objects.filter(establishment_id=plan.establishment_id)
            elif model in (Seat, ITSystem):
                field.queryset = model._default_manager.filter(plan=plan)

    def service_data(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(field values, many-to-many values) for plan_part_save."""
        m2m_names = {f.name for f in self._meta.model._meta.many_to_many}
        data = {k: v for k, v in self.cleaned_data.items() if k not in m2m_names}
        m2m = {k: v for k, v in self.cleaned_data.items() if k in m2m_names}
        return data, m2m


class PlanCellForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Plan
        fields = ["meeting_place", "fallback_place", "bridge_phone", "bridge_code", "bridge_notes", "briefing_rhythm"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _readable_phones(self)


class SeatForm(PlanPartForm):
    class Meta:
        model = Seat
        fields = ["cell", "title", "function", "holder", "mission", "order"]
        widgets = {"mission": forms.Textarea(attrs={"rows": 3})}


class AlertStepForm(PlanPartForm):
    class Meta:
        model = AlertStep
        fields = ["order", "from_seat", "to_seat", "means", "fallback_means", "delay_minutes", "note"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from_seat"].empty_label = str(_("Whoever detects the incident"))


class ReflexSheetForm(PlanPartForm):
    class Meta:
        model = ReflexSheet
        fields = ["title", "owner_function", "owner_seat", "purpose", "order"]
        widgets = {"purpose": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner_function"].help_text = _("The role that runs this sheet (or choose a seat).")


class ReflexItemForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = ReflexItem
        fields = ["phase", "text", "due_minutes", "becomes_task"]

    def has_changed(self) -> bool:
        # A row without an action's text is a blank row, whatever its other boxes say.
        if not self.is_bound:
            return False
        return bool(str(self.data.get(self.add_prefix("text")) or "").strip()) or super().has_changed() and bool(
            self.data.get(self.add_prefix("due_minutes"))
        )


class _ItemRows(forms.BaseFormSet):
    def initial_form_count(self) -> int:
        # Every row may be left blank (ignored) or emptied; filled rows are validated.
        return 0


def reflex_item_formset(*, rows: int) -> Any:
    """Rows for the sheet's actions: the existing ones plus a few blank ones."""
    return forms.formset_factory(ReflexItemForm, formset=_ItemRows, extra=rows, can_delete=True)


def reflex_items_data(formset: Any) -> list[dict[str, Any]]:
    """The filled, not deleted rows of the formset, in the order shown."""
    items = []
    for form in formset.forms:
        data = getattr(form, "cleaned_data", None) or {}
        if not data or data.get("DELETE") or not (data.get("text") or "").strip():
            continue
        items.append({k: data.get(k) for k in ("phase", "text", "due_minutes", "becomes_task")})
    return items


class DegradedProcedureForm(PlanPartForm):
    class Meta:
        model = DegradedProcedure
        fields = [
            "department_kind", "department", "title", "switch_to_paper", "paper_forms", "who_runs",
            "result_flow", "return_to_normal", "order",
        ]
        widgets = {
            name: forms.Textarea(attrs={"rows": 3})
            for name in ("switch_to_paper", "paper_forms", "who_runs", "result_flow", "return_to_normal")
        }


class ITSystemForm(PlanPartForm):
    class Meta:
        model = ITSystem
        fields = [
            "name", "description", "owner", "vendor", "vendor_contact_24_7", "criticality", "backup_method",
            "has_offline_copy", "last_restore_test", "recovery_order",
        ]
        widgets = {"last_restore_test": DateInput()}


class CriticalProcessForm(PlanPartForm):
    class Meta:
        model = CriticalProcess
        fields = [
            "name", "description", "impact_4h", "impact_24h", "impact_72h", "impact_1w",
            "max_tolerable_downtime", "rto", "rpo", "recovery_order", "systems",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("max_tolerable_downtime", "rto", "rpo"):
            self.fields[name].help_text = _("For example: 30 min, 4 h, 1 h 30, 2 d, 1 week.")


class ExternalContactForm(PlanPartForm):
    class Meta:
        model = ExternalContact
        fields = ["kind", "organisation", "name", "phone", "phone_24_7", "email", "notes", "order"]


class ResourceForm(PlanPartForm):
    class Meta:
        model = Resource
        fields = ["kind", "description", "quantity", "location", "checked_on"]
        widgets = {"checked_on": DateInput()}


class DeputyAddForm(BootstrapFormMixin, forms.Form):
    person = forms.ModelChoiceField(label=_("Deputy"), queryset=Person.objects.none())

    def __init__(self, *args: Any, plan: Plan, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = people_of(plan)
        self.fields["person"].label_from_instance = lambda p: p.full_name


class ApproveForm(BootstrapFormMixin, forms.Form):
    note = forms.CharField(
        label=_("What changed in this version"), max_length=500, required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class PartSpec:
    """One editable part of the plan: its model, form, URL slug and title."""

    def __init__(self, key: str, slug: str, model: Any, form: Any, title: Any, ordered: bool = True) -> None:
        self.key, self.slug, self.model, self.form, self.title, self.ordered = key, slug, model, form, title, ordered


# Keys are the gap report's section names (and the API's part names).
PARTS: dict[str, PartSpec] = {
    spec.key: spec
    for spec in [
        PartSpec("seats", "sieges", Seat, SeatForm, _("Crisis cell seats")),
        PartSpec("alert_tree", "arbre-alerte", AlertStep, AlertStepForm, _("Alert tree")),
        PartSpec("reflex_sheets", "fiches-reflexes", ReflexSheet, ReflexSheetForm, _("Reflex sheets")),
        PartSpec("degraded_procedures", "modes-degrades", DegradedProcedure, DegradedProcedureForm,
                 _("Degraded-mode procedures")),
        PartSpec("critical_processes", "processus", CriticalProcess, CriticalProcessForm,
                 _("Critical processes (BIA)")),
        PartSpec("it_systems", "systemes", ITSystem, ITSystemForm, _("IT systems")),
        PartSpec("contacts", "contacts", ExternalContact, ExternalContactForm, _("External contacts")),
        PartSpec("resources", "ressources", Resource, ResourceForm, _("Resources"), ordered=False),
    ]
}
PARTS_BY_SLUG = {spec.slug: spec for spec in PARTS.values()}
