"""The staff situation page: the cell's editing page, and the public page behind its
unguessable link (no account needed; printable)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from planblanc import rights
from planblanc.core.forms import BootstrapFormMixin
from planblanc.crisis import selectors, situation
from planblanc.directory.models import Person


class SituationForm(BootstrapFormMixin, forms.Form):
    degraded_services = forms.CharField(
        label=gettext_lazy("Services in degraded mode"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        max_length=situation.MAX_FIELD,
    )
    stopped_applications = forms.CharField(
        label=gettext_lazy("Applications stopped"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        max_length=situation.MAX_FIELD,
    )
    what_to_do = forms.CharField(
        label=gettext_lazy("What to do"), widget=forms.Textarea(attrs={"rows": 6}), max_length=situation.MAX_FIELD,
    )
    next_update_at = forms.DateTimeField(
        label=gettext_lazy("Next update"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M"],
    )


class SubscribeForm(BootstrapFormMixin, forms.Form):
    channel = forms.ChoiceField(label=gettext_lazy("Tell me by"), choices=[
        ("email", gettext_lazy("Email")), ("sms", gettext_lazy("SMS")), ("push", gettext_lazy("Notification on my devices")),
    ])
    address = forms.CharField(label=gettext_lazy("Email address or mobile number"), required=False, max_length=255)


def _errors_to_form(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        form.add_error(None, exc)


@login_required
@require_http_methods(["GET", "POST"])
def situation_edit(request: HttpRequest, crisis_id: int) -> HttpResponse:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    may_run = rights.may_run_crisis(request.user, crisis)
    current = situation.situation_of(crisis=crisis)
    if current is not None:
        initial: dict[str, Any] = {
            "degraded_services": current.degraded_services, "stopped_applications": current.stopped_applications,
            "what_to_do": current.what_to_do, "next_update_at": current.next_update_at,
        }
    else:
        initial = situation.situation_draft(crisis=crisis)
    form = SituationForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not may_run:
            raise Http404
        if form.is_valid():
            try:
                current = situation.situation_publish(actor=request.user, crisis=crisis, **form.cleaned_data)
            except ValidationError as exc:
                _errors_to_form(form, exc)
            else:
                messages.success(request, _("Situation page published (version %(version)d).") % {
                    "version": current.version,
                })
                return redirect("crisis:situation", crisis.pk)
    return render(request, "crisis/situation_edit.html", {
        "crisis": crisis, "form": form, "situation": current, "may_run": may_run,
        "link": situation.situation_url(current) if current is not None and current.published_at else "",
        "subscribers": current.subscribers.count() if current is not None else 0,
    })


@login_required
@require_POST
def situation_revoke(request: HttpRequest, crisis_id: int) -> HttpResponse:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    if not rights.may_run_crisis(request.user, crisis) or situation.situation_of(crisis=crisis) is None:
        raise Http404
    situation.situation_revoke(actor=request.user, crisis=crisis)
    messages.success(request, _("The old link no longer works. Share the new one."))
    return redirect("crisis:situation", crisis.pk)


@never_cache
@require_http_methods(["GET", "POST"])
def situation_public(request: HttpRequest, token: str) -> HttpResponse:
    """Readable by anyone with the link; no account, no menu, printable."""
    page = situation.situation_public(token=token)
    if page is None:
        raise Http404
    form = SubscribeForm(request.POST or None)
    subscribed = False
    if request.method == "POST" and form.is_valid():
        person = Person.objects.filter(user=request.user).first() if request.user.is_authenticated else None
        try:
            situation.situation_subscribe(
                situation=page, channel=form.cleaned_data["channel"], address=form.cleaned_data["address"],
                person=person,
            )
            subscribed = True
            form = SubscribeForm()
        except ValidationError as exc:
            _errors_to_form(form, exc)
    response = render(request, "crisis/situation_public.html", {
        "page": page, "crisis": page.crisis, "form": form, "subscribed": subscribed,
    })
    response["X-Robots-Tag"] = "noindex, nofollow"
    # The secret link must not leak through Referer to other sites ("no-referrer" would
    # make the browser send "Origin: null" with the subscription form, which CSRF refuses).
    response["Referrer-Policy"] = "same-origin"
    return response
