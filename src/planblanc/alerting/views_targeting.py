"""Targeted campaigns: recipients from any combination of criteria, a live count
before sending, the channel plan; the progress of a campaign per establishment; a
person's contact preferences. Thin over alerting/targeting.py and preferences.py."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from planblanc.alerting import preferences, selectors, services, targeting
from planblanc.alerting.followup import campaign_create_with_followup
from planblanc.alerting.forms import ContactPreferenceForm, TargetedCampaignForm
from planblanc.alerting.models import Channel
from planblanc.core.forms import run_service
from planblanc.directory.models import Person
from planblanc.tenancy import Perm, get_for_user


def _create(request: HttpRequest, form: TargetedCampaignForm) -> Any:
    data = form.cleaned_data
    establishment, region = form.anchor()
    reached = targeting.target_resolve(user=request.user, target=form.target(), establishment=establishment, region=region)
    recipients = targeting.target_recipients(reached=reached, plan=data["channels"], is_exercise=data["is_exercise"])
    campaign_args: dict[str, Any] = {
        "establishment": establishment, "region": region, "title": data["title"], "message_fr": data["message_fr"],
        "message_en": data["message_en"], "channels": data["channels"], "is_exercise": data["is_exercise"],
        "recipients": recipients,
    }
    if data.get("followup_channel"):
        def with_followup() -> Any:
            return campaign_create_with_followup(
                actor=request.user, followup_channel=data["followup_channel"],
                followup_after_minutes=data["followup_after_minutes"], **campaign_args,
            )[0]

        return run_service(form, with_followup)
    return run_service(form, lambda: services.campaign_create(actor=request.user, **campaign_args))


@login_required
@require_http_methods(["GET", "POST"])
def campaign_target_new(request: HttpRequest) -> HttpResponse:
    form = TargetedCampaignForm(request.POST or None, user=request.user)
    if not form.fields["sender"].choices:  # type: ignore[attr-defined]
        raise Http404
    if request.method == "POST" and request.POST.get("edit"):
        # "Back to the form" from the confirmation: the message and the target as typed.
        return render(request, "alerting/campaign_target_new.html", {"form": form})
    if request.method == "POST" and form.is_valid():
        confirmation = _confirmation(request, form)
        if confirmation is not None:
            return render(request, "alerting/campaign_target_confirm.html", {"form": form, **confirmation})
        campaign = _create(request, form)
        if campaign is not None:
            return redirect("alerting:campaign_detail", pk=campaign.pk)
    return render(request, "alerting/campaign_target_new.html", {"form": form})


def _confirmation(request: HttpRequest, form: TargetedCampaignForm) -> dict[str, Any] | None:
    """A send to a whole region or to several establishments is confirmed first, with the
    number of people and of messages per channel. The confirmation carries the count it
    showed: if the target changed meanwhile, it is shown again with the new figures."""
    data = form.cleaned_data
    establishment, region = form.anchor()
    reached = targeting.target_resolve(user=request.user, target=form.target(), establishment=establishment,
                                       region=region)
    establishments = len({item.establishment.pk for item in reached})
    if region is None and establishments <= 1:
        return None
    recipients = targeting.target_recipients(reached=reached, plan=data["channels"], is_exercise=data["is_exercise"])
    per_channel: dict[str, int] = {}
    for recipient in recipients:
        for step in targeting.planned_steps(recipient=recipient, plan=data["channels"]):
            per_channel[step] = per_channel.get(step, 0) + 1
    stamp = f"{len(reached)}:{establishments}:" + ",".join(f"{k}={v}" for k, v in sorted(per_channel.items()))
    if request.POST.get("confirmed") == stamp:
        return None
    labels = dict(Channel.choices)
    return {
        "people": len(reached), "establishments": establishments, "stamp": stamp,
        "per_channel": [(labels.get(channel, channel), per_channel.get(channel, 0)) for channel in data["channels"]],
        "without_channel": sum(1 for r in recipients if not targeting.planned_steps(recipient=r, plan=data["channels"])),
        "fields": [(key, value) for key in request.POST if key not in ("csrfmiddlewaretoken", "confirmed")
                   for value in request.POST.getlist(key)],
        "changed": bool(request.POST.get("confirmed")),
    }


@login_required
@require_POST
def campaign_target_preview(request: HttpRequest) -> HttpResponse:
    """The live count shown under the form (HTMX): who the target reaches right now."""
    form = TargetedCampaignForm(request.POST, user=request.user)
    if not form.fields["sender"].choices:  # type: ignore[attr-defined]
        raise Http404
    preview = None
    if form.is_valid():
        establishment, region = form.anchor()
        preview = targeting.target_preview(
            user=request.user, target=form.target(), plan=form.cleaned_data["channels"],
            is_exercise=form.cleaned_data["is_exercise"], establishment=establishment, region=region,
            title=form.cleaned_data["title"], message=form.cleaned_data["message_fr"],
        )
    return render(request, "alerting/_target_preview.html", {"preview": preview, "form": form})


@login_required
def campaign_establishments(request: HttpRequest, pk: int) -> HttpResponse:
    """Progress per establishment, worst first; ?e=<name> drills down to its people."""
    campaign = selectors.get_campaign_for_user(user=request.user, campaign_id=pk)
    chosen = request.GET.get("e")
    context: dict[str, Any] = {
        "campaign": campaign, "rows": targeting.campaign_progress_by_establishment(campaign=campaign), "chosen": chosen,
    }
    if chosen is not None:
        context["recipients"] = targeting.campaign_recipients_of_establishment(
            campaign=campaign, establishment_name=chosen
        )[:500]
    return render(request, "alerting/campaign_establishments.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def contact_preference_edit(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_for_user(request.user, Person, Perm.MANAGE_PEOPLE, pk=person_id)
    current = preferences.ContactPreference.objects.filter(person=person).first()
    initial: dict[str, Any] = {}
    if current is not None:
        initial = dict(zip(("first", "second", "third"), current.channels, strict=False))
        initial.update(quiet_from=current.quiet_from, quiet_until=current.quiet_until)
    form = ContactPreferenceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = run_service(form, lambda: preferences.contact_preference_set(
            actor=request.user, person=person, channels=form.channel_order(),
            quiet_from=form.cleaned_data["quiet_from"], quiet_until=form.cleaned_data["quiet_until"],
        ))
        if saved is not None:
            return redirect("alerting:contact_preference", person_id=person.pk)
    return render(request, "alerting/contact_preference.html", {"form": form, "person": person, "saved": current})
