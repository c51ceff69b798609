from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from planblanc.alerting.channels.base import configured_providers
from planblanc.alerting.models import Channel
from planblanc.alerting.templating import TEMPLATE_VARIABLES
from planblanc.core.forms import BootstrapFormMixin
from planblanc.directory.models import Establishment
from planblanc.tenancy import Perm


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
