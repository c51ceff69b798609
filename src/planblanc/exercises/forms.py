"""Forms of the exercise pages. They only shape input; the rules live in services."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from planblanc.core.forms import BootstrapFormMixin
from planblanc.directory.models import Establishment, Person
from planblanc.exercises.chronogramme import FIELDS
from planblanc.exercises.kits import kits, questionnaire
from planblanc.exercises.models import EvaluationCriterion, Exercise, Inject, ParticipantRole
from planblanc.tenancy import Perm

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _people_of(establishment: Establishment) -> Any:
    return Person.objects.filter(memberships__establishment=establishment).distinct().order_by("last_name", "first_name")


class ExerciseFromKitForm(BootstrapFormMixin, forms.Form):
    establishment = forms.ModelChoiceField(label=_("Establishment"), queryset=Establishment.objects.none())
    kit = forms.ChoiceField(label=_("Kit"))
    title = forms.CharField(label=_("Title"), max_length=200, required=False,
                            help_text=_("Empty: the kit's title."))
    planned_start = forms.DateTimeField(label=_("Planned start"), required=False, widget=DATETIME_WIDGET)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["establishment"].queryset = Establishment.objects.visible_to(user, Perm.RUN_EXERCISE)
        self.fields["kit"].choices = [("", _("Empty exercise (no kit)"))] + [
            (kit.slug, f"{kit.title} — {kit.level_label}, {kit.duration_label}") for kit in kits().values()
        ]
        self.fields["kit"].required = False


class ExerciseForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Exercise
        fields = ["title", "maturity_level", "objectives", "scenario", "counts_for_obligation"]
        widgets = {"objectives": forms.Textarea(attrs={"rows": 4}), "scenario": forms.Textarea(attrs={"rows": 6})}


class ScheduleForm(BootstrapFormMixin, forms.Form):
    planned_start = forms.DateTimeField(label=_("Date and time"), widget=DATETIME_WIDGET)
    duration_minutes = forms.IntegerField(label=_("Duration (minutes)"), min_value=15, max_value=3 * 24 * 60,
                                          required=False)
    location = forms.CharField(label=_("Place"), max_length=300, required=False)


class InjectForm(BootstrapFormMixin, forms.ModelForm):
    offset_minutes = forms.IntegerField(
        label=_("Minutes from the start"), required=False, min_value=-7 * 24 * 60, max_value=7 * 24 * 60,
        help_text=_("Or give an absolute time below."),
    )
    attachments_text = forms.CharField(
        label=_("Attachments"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One document per line (fake article, log extract…)."),
    )
    dependencies = forms.ModelMultipleChoiceField(
        label=_("Send only after"), queryset=Inject.objects.none(), required=False,
        help_text=_("The injects that must have been handled first."),
    )

    class Meta:
        model = Inject
        fields = ["number", "phase", "offset_minutes", "scheduled_at", "story_time", "channel", "kind", "sender", "target_cell",
                  "target_role", "subject", "content", "attachments_text", "animator", "comment", "deliverable",
                  "dependencies"]
        widgets = {
            "scheduled_at": DATETIME_WIDGET,
            "content": forms.Textarea(attrs={"rows": 5}),
            "comment": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, exercise: Exercise, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["number"].required = False
        self.fields["animator"].queryset = _people_of(exercise.establishment)
        others = exercise.injects.order_by("number")
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
            self.initial["dependencies"] = list(self.instance.dependencies.all())
            if self.instance.offset is not None:
                self.initial["offset_minutes"] = int(self.instance.offset.total_seconds()) // 60
            self.initial["attachments_text"] = "\n".join(self.instance.attachments or [])
        self.fields["dependencies"].queryset = others
        self.fields["dependencies"].widget.attrs["size"] = 6

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("offset_minutes") is None and not data.get("scheduled_at"):
            self.add_error("offset_minutes", _("Give the time from the start or an absolute time."))
        return data

    def service_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data.get(name) for name in
                ("phase", "scheduled_at", "channel", "kind", "sender", "target_cell", "target_role", "subject",
                 "content", "animator", "comment", "deliverable")}
        for name in ("phase", "sender", "target_cell", "target_role", "subject", "content", "comment", "deliverable"):
            data[name] = data[name] or ""
        if self.cleaned_data.get("number"):
            data["number"] = self.cleaned_data["number"]
        minutes = self.cleaned_data.get("offset_minutes")
        data["offset"] = datetime.timedelta(minutes=minutes) if minutes is not None else None
        if data["offset"] is not None:
            data["scheduled_at"] = None
        data["attachments"] = [line.strip() for line in (self.cleaned_data.get("attachments_text") or "").splitlines()
                               if line.strip()]
        return data


class ReactionForm(BootstrapFormMixin, forms.Form):
    description = forms.CharField(label=_("Expected reaction"), max_length=2000)
    deadline_minutes = forms.IntegerField(label=_("Within (minutes)"), min_value=1, max_value=24 * 60, required=False)
    criterion = forms.ModelChoiceField(label=_("Evaluation criterion"), queryset=EvaluationCriterion.objects.none(),
                                       required=False)

    def __init__(self, *args: Any, exercise: Exercise, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["criterion"].queryset = exercise.criteria.all()


class ParticipantForm(BootstrapFormMixin, forms.Form):
    person = forms.ModelChoiceField(label=_("Person"), queryset=Person.objects.none())
    role = forms.ChoiceField(label=_("Role in the exercise"), choices=ParticipantRole.choices)
    cell = forms.CharField(label=_("Cell"), max_length=200, required=False)

    def __init__(self, *args: Any, exercise: Exercise, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = _people_of(exercise.establishment)


class QuestionnaireForm(BootstrapFormMixin, forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for question in questionnaire()["questions"]:
            self.fields[question["key"]] = forms.ChoiceField(
                label=question["text"], choices=[(a["key"], a["text"]) for a in question["answers"]],
                widget=forms.RadioSelect, required=False,
            )
            self.fields[question["key"]].widget.attrs["class"] = "form-check-input"


class ImportUploadForm(BootstrapFormMixin, forms.Form):
    file = forms.FileField(
        label=_("Chronogramme file"),
        help_text=_("XLSX in the usual kit layout (N°, Heure, Phase, Canal, Émetteur, Destinataire, Stimulus, "
                    "Réactions attendues…), or the platform's JSON format. Up to 5 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.json,application/json,application/vnd."
                                                         "openxmlformats-officedocument.spreadsheetml.sheet"}),
    )
    replace = forms.BooleanField(label=_("Replace the exercise's current injects"), required=False)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > 5 * 1024 * 1024:
            raise forms.ValidationError(_("The file is larger than 5 MB."))
        name = upload.name.lower()
        if not name.endswith((".xlsx", ".json")):
            raise forms.ValidationError(_("Send an .xlsx or a .json file."))
        return upload


class MappingForm(BootstrapFormMixin, forms.Form):
    """The column-mapping step: which sheet, and which column holds each field."""

    sheet = forms.ChoiceField(label=_("Sheet"))
    only_good_rows = forms.BooleanField(
        label=_("Import only the rows without errors"), required=False,
        help_text=_("The rows in error are left out; nothing else is changed."),
    )

    def __init__(self, *args: Any, sheets: list[str], headers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sheet"].choices = [(name, name) for name in sheets]
        columns = [("", _("— not in the file —"))] + [
            (str(index), f"{_column_letter(index)} · {header or '…'}") for index, header in enumerate(headers)
        ]
        for name, label in FIELDS.items():
            self.fields[f"col_{name}"] = forms.ChoiceField(label=label, choices=columns, required=False)

    def mapping(self) -> dict[int, str]:
        result: dict[int, str] = {}
        for name in FIELDS:
            value = self.cleaned_data.get(f"col_{name}")
            if value not in (None, ""):
                result[int(value)] = name
        return result

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        chosen = [data.get(f"col_{name}") for name in FIELDS if data.get(f"col_{name}") not in (None, "")]
        if len(chosen) != len(set(chosen)):
            raise forms.ValidationError(_("A column can hold only one field."))
        return data


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)

