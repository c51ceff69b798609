"""Forms of the crisis console: field shapes only; the rules are in services.py."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from planblanc.core.forms import BootstrapFormMixin
from planblanc.crisis.models import (
    DAMAGE_QUESTIONS,
    Answer,
    CrisisKind,
    DepartmentState,
    EntryKind,
    Severity,
    SystemState,
)
from planblanc.crisis.services import MAX_TEXT


class DeclareForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Type of crisis"), choices=CrisisKind.choices)
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices)
    first_facts = forms.CharField(
        label=_("First facts"), widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What was seen, when, by whom, what is affected."),
    )
    is_exercise = forms.BooleanField(label=_("This is an exercise"), required=False)
    confirm_second = forms.BooleanField(
        label=_("I confirm: declare a second crisis while one is active"), required=False,
    )

    def __init__(self, *args: Any, second: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not second:
            # The confirmation makes sense only while a crisis is active.
            del self.fields["confirm_second"]


class EntryForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=EntryKind.choices, initial=EntryKind.EVENT)
    text = forms.CharField(label=_("What happened"), max_length=MAX_TEXT,
                           widget=forms.Textarea(attrs={"rows": 3, "data-pb-max": MAX_TEXT}))
    attachment = forms.FileField(label=_("Attachment (optional)"), required=False)
    corrects = forms.IntegerField(
        label=_("Corrects entry number (optional)"), required=False, min_value=1,
    )


class DecisionForm(BootstrapFormMixin, forms.Form):
    text = forms.CharField(label=_("Decision"), max_length=MAX_TEXT,
                           widget=forms.Textarea(attrs={"rows": 2, "data-pb-max": MAX_TEXT}))
    rationale = forms.CharField(label=_("Rationale"), max_length=MAX_TEXT, required=False,
                                widget=forms.Textarea(attrs={"rows": 2, "data-pb-max": MAX_TEXT}))
    decided_by = forms.CharField(label=_("Decided by"), max_length=200, required=False,
                                 help_text=_("Empty: you."))


class TaskForm(BootstrapFormMixin, forms.Form):
    title = forms.CharField(label=_("Task"), max_length=500)
    owner_label = forms.CharField(label=_("Owner"), max_length=200, required=False)
    due_in_minutes = forms.IntegerField(label=_("Due in (minutes)"), required=False, min_value=0, max_value=60 * 24 * 30)


class TaskStatusForm(forms.Form):
    status = forms.ChoiceField(choices=[(v, v) for v in ("todo", "doing", "done", "cancelled")])


class DepartmentStatusForm(BootstrapFormMixin, forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=DepartmentState.choices)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)


class SystemStatusForm(BootstrapFormMixin, forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=SystemState.choices)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)


class SystemAddForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(label=_("IT system"), max_length=200)


class DamageForm(BootstrapFormMixin, forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, (label, kind) in DAMAGE_QUESTIONS.items():
            if kind == "answer":
                field: forms.Field = forms.ChoiceField(label=label, choices=Answer.choices)
                field.widget.attrs["class"] = "form-select"
            else:
                field = forms.CharField(label=label, required=False, widget=forms.Textarea(attrs={"rows": 2}))
                field.widget.attrs["class"] = "form-control"
            self.fields[name] = field


class CloseForm(BootstrapFormMixin, forms.Form):
    summary = forms.CharField(label=_("Closing entry"), widget=forms.Textarea(attrs={"rows": 3}),
                              help_text=_("How the crisis ends: state of care, of the IT, what follows."))
