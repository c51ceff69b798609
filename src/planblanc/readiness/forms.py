from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from planblanc.core.forms import BootstrapFormMixin
from planblanc.directory.models import Establishment
from planblanc.readiness import selectors
from planblanc.readiness.models import Action, AnswerLevel, GovernanceRecord, Measure


class AnswerForm(BootstrapFormMixin, forms.Form):
    level = forms.ChoiceField(label=_("Level"), required=False)
    not_applicable = forms.BooleanField(label=_("Not applicable"), required=False)
    not_applicable_reason = forms.CharField(
        label=_("Why it does not apply"), required=False, widget=forms.TextInput,
        help_text=_("Required when the measure is not applicable."),
    )
    comment = forms.CharField(label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, levels: list[AnswerLevel], prefix_id: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = [("", "—")] + [(level.code, level.label) for level in levels]


class EvidenceForm(BootstrapFormMixin, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=300, required=False)
    url = forms.CharField(label=_("Link"), max_length=1000, required=False,
                          help_text=_("A web address, or upload a file instead."))
    file = forms.FileField(label=_("File"), required=False)
    expires_on = forms.DateField(label=_("Expires on"), required=False, widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))


class ActionForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Action
        fields = ["title", "description", "measure", "owner", "due_on", "status"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "due_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }

    def __init__(self, *args: Any, establishment: Establishment, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        referential_ids = [r.pk for r in selectors.referentials_applicable(establishment=establishment)]
        self.fields["measure"].queryset = (  # type: ignore[attr-defined]
            Measure.objects.filter(referential_id__in=referential_ids, is_active=True)
            .select_related("referential").order_by("referential__name", "position")
        )
        self.fields["measure"].label_from_instance = (  # type: ignore[attr-defined]
            lambda m: f"{m.referential.name} · {m.ref_id} — {m.title}"[:150]
        )
        self.fields["owner"].queryset = selectors.establishment_people(establishment=establishment)  # type: ignore[attr-defined]


class GovernanceForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = GovernanceRecord
        fields = [
            "ciso", "ciso_pooled", "dpo", "dpo_pooled", "it_budget", "security_budget",
            "security_in_risk_management", "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, establishment: Establishment, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        people = selectors.establishment_people(establishment=establishment, with_group=True)
        self.fields["ciso"].queryset = people  # type: ignore[attr-defined]
        self.fields["dpo"].queryset = people  # type: ignore[attr-defined]
