from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from planblanc.core.forms import BootstrapFormMixin
from planblanc.crisis.models import EntryKind
from planblanc.mutual_aid.models import EdStatus, ResourceKind, TargetKind, Urgency

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ResourceForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ResourceKind.choices)
    name = forms.CharField(label=_("Resource"), max_length=200,
                           help_text=_("e.g. standalone PCs, 4G router, incident responder, lab"))
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=100_000, initial=1)
    description = forms.CharField(label=_("Description"), required=False, max_length=2000,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    location = forms.CharField(label=_("Where"), required=False, max_length=200)
    contact = forms.CharField(label=_("Who to call"), required=False, max_length=200)
    contact_phone = forms.CharField(label=_("Phone"), required=False, max_length=30)
    delay = forms.CharField(label=_("Delay"), required=False, max_length=100, help_text=_("e.g. 2 h, next day"))
    cost = forms.CharField(label=_("Cost"), required=False, max_length=100)
    agreement = forms.CharField(label=_("Agreement reference"), required=False, max_length=100)


class OwnerForm(BootstrapFormMixin, forms.Form):
    owner = forms.ChoiceField(label=_("On behalf of"))

    def __init__(self, *args: Any, owners: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = owners


class HelpRequestForm(BootstrapFormMixin, forms.Form):
    target_kind = forms.ChoiceField(label=_("Ask"), choices=TargetKind.choices, initial=TargetKind.GROUP)
    target_establishment = forms.ModelChoiceField(label=_("Establishment asked"), queryset=None, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=ResourceKind.choices, initial=ResourceKind.EQUIPMENT)
    what = forms.CharField(label=_("What"), max_length=200)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=100_000, initial=1)
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices, initial=Urgency.URGENT)
    deliver_to = forms.CharField(label=_("Where to deliver"), max_length=300)
    needed_until = forms.DateTimeField(label=_("Needed until"), required=False, widget=DATETIME_WIDGET)
    details = forms.CharField(label=_("Details"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, establishments: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target_establishment"].queryset = establishments


class OfferForm(BootstrapFormMixin, forms.Form):
    level = forms.ChoiceField(label=_("On behalf of"))
    resource = forms.ModelChoiceField(label=_("From the catalogue"), queryset=None, required=False)
    what = forms.CharField(label=_("What"), max_length=200, required=False)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=100_000)
    conditions = forms.CharField(label=_("Conditions"), max_length=300, required=False,
                                 help_text=_("delay, cost, agreement"))
    arrives_at = forms.DateTimeField(label=_("Expected arrival"), required=False, widget=DATETIME_WIDGET)

    def __init__(self, *args: Any, levels: list[tuple[str, str]], resources: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = levels
        self.fields["resource"].queryset = resources


class SituationReportForm(BootstrapFormMixin, forms.Form):
    ed_status = forms.ChoiceField(label=_("Emergency department"), choices=EdStatus.choices,
                                  widget=forms.RadioSelect(attrs={"class": "btn-check"}))
    beds_deprogrammed = forms.IntegerField(label=_("Beds deprogrammed"), min_value=0, max_value=100_000, initial=0)
    surgeries_deprogrammed = forms.IntegerField(label=_("Surgeries deprogrammed"), min_value=0, max_value=100_000,
                                                initial=0)
    lab_on_paper = forms.BooleanField(label=_("Lab on paper"), required=False)
    imaging_on_paper = forms.BooleanField(label=_("Imaging on paper"), required=False)
    patients_transferred = forms.IntegerField(label=_("Patients transferred"), min_value=0, max_value=100_000,
                                              initial=0)
    needs = forms.CharField(label=_("Needs"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    next_report_at = forms.DateTimeField(label=_("Next report at"), widget=DATETIME_WIDGET)


class RegionalOpenForm(BootstrapFormMixin, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    is_exercise = forms.BooleanField(label=_("Exercise"), required=False)
    report_every_hours = forms.IntegerField(label=_("Situation report every (hours)"), min_value=1, max_value=24,
                                            initial=4)
    link_all = forms.BooleanField(label=_("Link every active crisis of the region now"), required=False,
                                  initial=True)


class RegionalAlertForm(BootstrapFormMixin, forms.Form):
    message = forms.CharField(label=_("Message to the crisis cells"), max_length=1000,
                              widget=forms.Textarea(attrs={"rows": 3}))
    confirm = forms.BooleanField(label=_("I confirm this regional send"), required=True)


class ImportForm(BootstrapFormMixin, forms.Form):
    file = forms.FileField(label=_("CSV or XLSX file"))


class EdxlImportForm(BootstrapFormMixin, forms.Form):
    file = forms.FileField(label=_("EDXL-RM XML file"))


def next_report_default(hours: int = 4) -> datetime.datetime:
    return timezone.localtime(timezone.now() + datetime.timedelta(hours=hours)).replace(second=0, microsecond=0)


class ResponderRouteForm(BootstrapFormMixin, forms.Form):
    rotation = forms.ModelChoiceField(label=_("On-call rotation alerted"), queryset=None, required=False,
                                      help_text=_("Empty: the holders of the role are alerted."))
    answer_within_minutes = forms.IntegerField(label=_("Escalate when nobody answers within (minutes)"),
                                               min_value=5, max_value=24 * 60, initial=30)

    def __init__(self, *args: Any, rotations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rotation"].queryset = rotations


# The regional cell's logbook, decisions and tasks (written by the crisis console's services).
class CellEntryForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=EntryKind.choices, initial=EntryKind.EVENT)
    text = forms.CharField(label=_("What happened"), widget=forms.Textarea(attrs={"rows": 3}), max_length=20_000)


class CellDecisionForm(BootstrapFormMixin, forms.Form):
    text = forms.CharField(label=_("Decision"), widget=forms.Textarea(attrs={"rows": 2}))
    rationale = forms.CharField(label=_("Rationale"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    decided_by = forms.CharField(label=_("Decided by"), max_length=200, required=False)


class CellTaskForm(BootstrapFormMixin, forms.Form):
    title = forms.CharField(label=_("Task"), max_length=500)
    owner_label = forms.CharField(label=_("Owner"), max_length=200, required=False)
    due_in_minutes = forms.IntegerField(label=_("Due in (minutes)"), required=False, min_value=0,
                                        max_value=60 * 24 * 30)


class CellCloseForm(BootstrapFormMixin, forms.Form):
    summary = forms.CharField(label=_("Closing entry: how the regional crisis ends"),
                              widget=forms.Textarea(attrs={"rows": 2}), max_length=20_000)
    confirm = forms.BooleanField(label=_("I confirm the end of the regional crisis"), required=True)
