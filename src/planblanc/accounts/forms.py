from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from planblanc.directory.models import Establishment
from planblanc.tenancy import Perm, Role


class LoginForm(AuthenticationForm):
    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autocapitalize": "none"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class TwoFactorForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}),
    )

    def clean_code(self) -> str:
        # Apps show "123 456"; people type or paste it that way.
        return "".join(self.cleaned_data["code"].split())


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("What uses this token, e.g. “regional script”."))
    valid_days = forms.TypedChoiceField(
        label=_("Valid for"),
        coerce=int,
        choices=[(30, _("30 days")), (90, _("90 days")), (365, _("1 year"))],
        initial=90,
    )


class GrantAccessForm(forms.Form):
    """Create a login (or reuse one) and give it a role over one establishment."""

    username = forms.CharField(label=_("Username"), max_length=150)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    password = forms.CharField(
        label=_("Initial password"), required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("Only for a new login: at least 12 characters. Give it to the person by another channel."),
    )
    role = forms.ChoiceField(label=_("Role"))
    establishment = forms.ModelChoiceField(label=_("Establishment"), queryset=None)  # type: ignore[arg-type]

    def __init__(self, *args, user, **kwargs):  # type: ignore[no-untyped-def]

        super().__init__(*args, **kwargs)
        self.fields["establishment"].queryset = Establishment.objects.visible_to(user, Perm.MANAGE_ACCESS)
        self.fields["role"].choices = [
            (role.value, role.label)
            for role in (Role.ESTABLISHMENT_ADMIN, Role.CRISIS_MEMBER, Role.EXERCISE_ANIMATOR, Role.AUDITOR)
        ]
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)
