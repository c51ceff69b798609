from __future__ import annotations

import datetime

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from planblanc.awareness.models import InvitationChannel
from planblanc.core.forms import BootstrapFormMixin


def _default_deadline() -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=60)


class CampaignForm(BootstrapFormMixin, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    year = forms.IntegerField(label=_("Year"), min_value=2020, max_value=2100)
    deadline = forms.DateField(label=_("Deadline"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    channel = forms.ChoiceField(label=_("Invitations by"), choices=InvitationChannel.choices)
    reminder_days = forms.IntegerField(
        label=_("Reminder, days before the deadline"), min_value=0, max_value=365, required=False,
        help_text=_("One reminder goes to those not done, once."))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        today = timezone.localdate()
        self.fields["year"].initial = today.year
        self.fields["deadline"].initial = _default_deadline()
        self.fields["title"].initial = _("Cybersecurity awareness %(year)s") % {"year": today.year}
        self.fields["reminder_days"].initial = settings.AWARENESS_REMINDER_DAYS


class LaunchForm(CampaignForm):
    """A campaign for every establishment of a group, a region or the country."""

    scope = forms.ChoiceField(label=_("For the establishments of"))

    field_order = ["scope", "title", "year", "deadline", "channel", "reminder_days"]

    def __init__(self, *args: object, scopes: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = scopes
        self.order_fields(self.field_order)
