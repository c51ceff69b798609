from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from planblanc.core.forms import BootstrapFormMixin
from planblanc.directory.models import Department, Establishment, Function, Group, Person, Region
from planblanc.tenancy import Perm, scope_for


class EstablishmentForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Establishment
        fields = [
            "finess", "name", "category", "region", "group", "is_priority", "is_essential_operator",
            "address", "postal_code", "city", "switchboard_phone",
        ]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.visible_to(user)
        self.fields["group"].queryset = Group.objects.visible_to(user)
        self.fields["finess"].help_text = _("9 characters; spaces are ignored.")
        # Priority and essential-services designations are the State's (see services): shown
        # read-only to those who may not change them, so that no one types in vain.
        scope = scope_for(user, Perm.MANAGE_ESTABLISHMENTS)
        region_id = self.instance.region_id if self.instance.pk else None
        may_designate = scope.national or (
            region_id in scope.region_ids if region_id else bool(scope.region_ids)
        )
        if not may_designate:
            for name in ("is_priority", "is_essential_operator"):
                self.fields[name].disabled = True
                self.fields[name].help_text = _("Set by the regional health agency.")


class DepartmentForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Department
        fields = ["kind", "name", "phone"]


class PersonForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Person
        fields = [
            "last_name", "first_name", "job_title", "email", "mobile_phone", "landline_phone", "matrix_id",
            "preferred_language",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mobile_phone"].help_text = _("Used for SMS and voice alerts. Any format: 06 12 34 56 78, +33 6…")

    def validate_unique(self) -> None:
        # The service checks the address case-insensitively and says so in one message.
        pass


class MembershipForm(BootstrapFormMixin, forms.Form):
    establishment = forms.ModelChoiceField(label=_("Establishment"), queryset=Establishment.objects.none())
    # No default: a function such as Director gives the right to declare crises and to
    # approve the plan, so it is always a deliberate choice.
    function = forms.ChoiceField(label=_("Function"), choices=[("", "---------"), *Function.choices],
                                 error_messages={"required": _("Choose this person's function.")})
    department = forms.ModelChoiceField(label=_("Department"), queryset=Department.objects.none(), required=False)

    def __init__(self, *args: Any, user: Any, establishment: Establishment | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manageable = Establishment.objects.visible_to(user, Perm.MANAGE_PEOPLE)
        self.fields["establishment"].queryset = manageable
        self.fields["department"].queryset = Department.objects.visible_to(user, Perm.MANAGE_PEOPLE).select_related(
            "establishment"
        )
        self.fields["department"].label_from_instance = lambda d: f"{d.name} — {d.establishment.name}"
        if establishment is not None:
            self.fields["establishment"].initial = establishment.pk
        elif manageable.count() == 1:
            self.fields["establishment"].initial = manageable.first().pk
