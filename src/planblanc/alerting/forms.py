from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from planblanc.alerting.channels.base import configured_providers
from planblanc.alerting.models import Channel, OnCallRotation
from planblanc.alerting.targeting import Target
from planblanc.alerting.templating import TEMPLATE_VARIABLES
from planblanc.core.forms import BootstrapFormMixin
from planblanc.directory.models import (
    Department,
    Establishment,
    EstablishmentCategory,
    Function,
    Group,
    Person,
    Region,
)
from planblanc.tenancy import Perm, scope_for


class CampaignForm(BootstrapFormMixin, forms.Form):
    """A message to every person of one establishment."""

    establishment = forms.ModelChoiceField(label=_("Establishment"), queryset=Establishment.objects.none())
    title = forms.CharField(label=_("Title"), max_length=200)
    message_fr = forms.CharField(
        label=_("Message (French)"), widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Variables: %(names)s") % {"names": ", ".join("{" + n + "}" for n in TEMPLATE_VARIABLES)},
    )
    message_en = forms.CharField(label=_("Message (English)"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    channels = forms.MultipleChoiceField(
        label=_("Channels, in order of fallback"), widget=forms.CheckboxSelectMultiple, choices=(),
    )
    is_exercise = forms.BooleanField(
        label=_("Exercise (every message is marked EXERCICE EXERCICE EXERCICE)"), required=False, initial=True,
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["establishment"].queryset = Establishment.objects.visible_to(user, Perm.MANAGE_PEOPLE)  # type: ignore[attr-defined]
        configured = configured_providers()
        choices = [(value, label) for value, label in Channel.choices if value in configured]
        self.fields["channels"].choices = choices  # type: ignore[attr-defined]
        self.fields["channels"].initial = [value for value, _label in choices[:1]]
        self.fields["channels"].widget.attrs.pop("class", None)


class TargetedCampaignForm(BootstrapFormMixin, forms.Form):
    """A campaign whose recipients are chosen from any combination of criteria
    (alerting/targeting.py), with its channel plan."""

    sender = forms.ChoiceField(label=_("Sent on behalf of"), choices=())
    title = forms.CharField(label=_("Title"), max_length=200)
    message_fr = forms.CharField(
        label=_("Message (French)"), widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Variables: %(names)s") % {"names": ", ".join("{" + n + "}" for n in TEMPLATE_VARIABLES)},
    )
    message_en = forms.CharField(label=_("Message (English)"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    is_exercise = forms.BooleanField(
        label=_("Exercise (every message is marked EXERCICE EXERCICE EXERCICE)"), required=False, initial=True,
    )
    # Who.
    establishments = forms.ModelMultipleChoiceField(
        label=_("Everyone of these establishments"), queryset=Establishment.objects.none(), required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    whole_region = forms.BooleanField(label=_("The whole region (regional alert)"), required=False)
    region_priority_only = forms.BooleanField(label=_("Only priority establishments"), required=False)
    region_categories = forms.MultipleChoiceField(
        label=_("Only these categories"), choices=EstablishmentCategory.choices, required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
    )
    region_everyone = forms.BooleanField(
        label=_("Everyone in those establishments, not only the key functions"), required=False,
        help_text=_("Key functions: director, deputy director, CISO, IT director, manager on call."),
    )
    groups = forms.ModelMultipleChoiceField(
        label=_("Everyone of these groups (GHT)"), queryset=Group.objects.none(), required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    functions = forms.MultipleChoiceField(
        label=_("Everyone holding these functions"), choices=Function.choices, required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    departments = forms.ModelMultipleChoiceField(
        label=_("Everyone of these departments"), queryset=Department.objects.none(), required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    rotations = forms.ModelMultipleChoiceField(
        label=_("Whoever is on call now in these rotations"), queryset=OnCallRotation.objects.none(),
        required=False, widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    people = forms.ModelMultipleChoiceField(
        label=_("These people"), queryset=Person.objects.none(), required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    # How.
    channels = forms.MultipleChoiceField(
        label=_("Channels, in order of fallback"), widget=forms.CheckboxSelectMultiple, choices=(),
        help_text=_("Each person is tried on the next channel when the previous one fails; a person's own "
                    "contact preferences come first."),
    )
    followup_channel = forms.ChoiceField(label=_("Then also on"), choices=(), required=False)
    followup_after_minutes = forms.IntegerField(
        label=_("… to those who have not acknowledged after (minutes)"), min_value=0, max_value=24 * 60,
        required=False, help_text=_("0 sends on both channels at once."),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        managed = Establishment.objects.visible_to(user, Perm.MANAGE_PEOPLE)
        regional = scope_for(user, Perm.MANAGE_ESTABLISHMENTS)
        regions = Region.objects.all() if regional.national else Region.objects.filter(pk__in=regional.region_ids)
        visible = managed | Establishment.objects.visible_to(user, Perm.MANAGE_ESTABLISHMENTS).filter(region__in=regions)
        self.fields["sender"].choices = [  # type: ignore[attr-defined]
            *((f"r:{r.pk}", _("Region: %(name)s") % {"name": r.name}) for r in regions.order_by("name")),
            *((f"e:{e.pk}", e.name) for e in managed.order_by("name")),
        ]
        self.fields["establishments"].queryset = visible.order_by("name")  # type: ignore[attr-defined]
        self.fields["groups"].queryset = Group.objects.filter(establishments__in=visible).distinct()  # type: ignore[attr-defined]
        self.fields["departments"].queryset = Department.objects.filter(  # type: ignore[attr-defined]
            establishment__in=visible
        ).select_related("establishment")
        self.fields["rotations"].queryset = OnCallRotation.objects.filter(establishment__in=visible)  # type: ignore[attr-defined]
        self.fields["people"].queryset = Person.objects.filter(  # type: ignore[attr-defined]
            memberships__establishment__in=visible
        ).distinct().order_by("last_name", "first_name")
        configured = configured_providers()
        choices = [(value, label) for value, label in Channel.choices if value in configured]
        self.fields["channels"].choices = choices  # type: ignore[attr-defined]
        self.fields["channels"].initial = [value for value, _label in choices[:1]]
        self.fields["channels"].widget.attrs.pop("class", None)
        self.fields["followup_channel"].choices = [("", _("(no second channel)")), *choices]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("followup_channel") and data.get("followup_after_minutes") is None:
            self.add_error("followup_after_minutes", _("Say after how many minutes the second channel is used."))
        return data

    def anchor(self) -> tuple[Establishment | None, Region | None]:
        """The establishment or region the campaign hangs from (the choices only hold
        those in the user's scope)."""
        kind, _sep, pk = str(self.cleaned_data.get("sender", "")).partition(":")
        if kind == "r":
            return None, Region.objects.filter(pk=pk).first()
        return Establishment.objects.filter(pk=pk).first(), None

    def target(self) -> Any:
        data = self.cleaned_data
        return Target(
            establishment_ids=tuple(e.pk for e in data.get("establishments") or ()),
            whole_region=bool(data.get("whole_region")),
            region_priority_only=bool(data.get("region_priority_only")),
            region_categories=tuple(data.get("region_categories") or ()),
            region_everyone=bool(data.get("region_everyone")),
            group_ids=tuple(g.pk for g in data.get("groups") or ()),
            functions=tuple(data.get("functions") or ()),
            department_ids=tuple(d.pk for d in data.get("departments") or ()),
            rotation_ids=tuple(r.pk for r in data.get("rotations") or ()),
            person_ids=tuple(p.pk for p in data.get("people") or ()),
        )


class ContactPreferenceForm(BootstrapFormMixin, forms.Form):
    first = forms.ChoiceField(label=_("First channel"), choices=(), required=False)
    second = forms.ChoiceField(label=_("Then"), choices=(), required=False)
    third = forms.ChoiceField(label=_("Then"), choices=(), required=False)
    quiet_from = forms.TimeField(
        label=_("Quiet hours from (exercises only)"), required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_until = forms.TimeField(
        label=_("Quiet hours until"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("first", "second", "third"):
            self.fields[name].choices = [("", "-"), *Channel.choices]  # type: ignore[attr-defined]

    def channel_order(self) -> list[str]:
        return [self.cleaned_data[name] for name in ("first", "second", "third") if self.cleaned_data.get(name)]
