"""Alerting pages, thin over services and selectors.

The acknowledgement page is public: the signed link is the credential, and a POST
button (not the GET) records it, so that mail scanners that open every link do not
acknowledge for the person."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from planblanc import rights
from planblanc.alerting import answers as answer_set
from planblanc.alerting import escalation, oncall, selectors, services
from planblanc.alerting.capacity import campaign_pace
from planblanc.alerting.channels.base import providers_for
from planblanc.alerting.forms import CampaignForm
from planblanc.alerting.models import (
    Acknowledgement,
    CampaignStatus,
    Channel,
    Escalation,
    EscalationPolicy,
    LevelKind,
    OnCallRotation,
    RotationPeriod,
)
from planblanc.core import tabular
from planblanc.core.forms import BootstrapFormMixin, run_service
from planblanc.directory.models import Establishment, Person
from planblanc.tenancy import Perm, can


@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.campaign_list(user=request.user), 30).get_page(request.GET.get("page"))
    return render(request, "alerting/campaign_list.html", {
        "page": page, "may_send": rights.may_send_alerts_somewhere(request.user), "outbox": selectors.outbox_status(),
        "to_acknowledge": selectors.alerts_to_acknowledge(user=request.user).count(),
        "may_send_targeted": rights.may_send_targeted_alerts_somewhere(request.user),
    })


@login_required
@require_http_methods(["GET", "POST"])
def campaign_new(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        establishment = data["establishment"]
        people = selectors.people_of_establishment(establishment=establishment)
        campaign = run_service(form, lambda: services.campaign_create(
            actor=request.user, establishment=establishment, title=data["title"], message_fr=data["message_fr"],
            message_en=data["message_en"], channels=data["channels"], is_exercise=data["is_exercise"],
            recipients=services.recipients_from_people(people, establishment_name=establishment.name),
        ))
        if campaign is not None:
            return redirect("alerting:campaign_detail", pk=campaign.pk)
    return render(request, "alerting/campaign_new.html", {"form": form})


@login_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.get_campaign_for_user(user=request.user, campaign_id=pk)
    return render(request, "alerting/campaign_detail.html", {
        "campaign": campaign, **_progress_context(campaign),
        # Only those who may close it see the button (others would get a 403).
        "may_close": rights.may_send_alerts(request.user, establishment=campaign.establishment, region=campaign.region),
    })


@login_required
def campaign_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The live part of the campaign page, polled every 2 seconds."""
    campaign = selectors.get_campaign_for_user(user=request.user, campaign_id=pk)
    return render(request, "alerting/_progress.html", {"campaign": campaign, **_progress_context(campaign)})


def _progress_context(campaign: Any) -> dict[str, object]:
    return {
        "progress": selectors.campaign_progress(campaign=campaign),
        "not_reached": selectors.not_reached(campaign=campaign)[:200],
        "answers": selectors.campaign_answers(campaign=campaign),
        "waiting": selectors.campaign_waiting(campaign=campaign)[:200],
        "seats": selectors.campaign_seats(campaign=campaign),
        "pace": campaign_pace(campaign=campaign),
    }


@login_required
@require_http_methods(["GET", "POST"])
def campaign_close(request: HttpRequest, pk: int) -> HttpResponse:
    """Close a campaign that waits for acknowledgements: a confirmation page that says
    what it does, then the audited close."""
    campaign = selectors.get_campaign_for_user(user=request.user, campaign_id=pk)
    if not rights.may_send_alerts(request.user, establishment=campaign.establishment, region=campaign.region):
        raise PermissionDenied
    if request.method == "POST":
        try:
            services.campaign_close(actor=request.user, campaign=campaign)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Campaign closed: nothing more will be sent."))
        return redirect("alerting:campaign_detail", pk=campaign.pk)
    return render(request, "alerting/campaign_close.html", {
        "campaign": campaign, "waiting": selectors.campaign_waiting(campaign=campaign).count(),
    })


@login_required
def campaign_export(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.get_campaign_for_user(user=request.user, campaign_id=pk)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    header = [
        "recipient", "channel", "step", "address", "status", "provider", "attempts", "reason", "last_error",
        "created_at", "sent_at", "delivered_at", "failed_at", "acknowledged_at", "message_id",
    ]

    def rows() -> Iterator[list[Any]]:
        yield header
        for d in selectors.deliveries_for_export(campaign=campaign).iterator(chunk_size=2000):
            yield [
                d.recipient.name, d.channel, d.step, d.address, d.status, d.provider, d.attempts, d.reason,
                d.last_error[:300], *(
                    timezone.localtime(t).isoformat() if t else ""
                    for t in (d.created_at, d.sent_at, d.delivered_at, d.failed_at, d.acknowledged_at)
                ), d.message_id,
            ]

    return tabular.csv_response(rows(), filename=f"campagne-{campaign.pk}-{stamp}.csv")


def _minutes_from(raw: str | None) -> tuple[int | None, list[str]]:
    """The arrival delay typed on a page: empty = not given."""
    raw = (raw or "").strip()[:10]
    if not raw:
        return None, []
    if not raw.isdigit() or int(raw) > answer_set.MAX_MINUTES:
        return None, [str(_("Give the arrival delay in minutes, between 0 and %(max)d.") % {"max": answer_set.MAX_MINUTES})]
    return int(raw), []


def _answer_from(raw: str | None, count: int = answer_set.MAX_ANSWERS) -> int | None:
    raw = (raw or "").strip()[:3]
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= count else None


@never_cache
@require_http_methods(["GET", "POST"])
def acknowledge(request: HttpRequest, token: str) -> HttpResponse:
    """One light page (no framework, one small stylesheet) that works on a bad 3G link:
    the meeting place and the bridge, and the answers (or one acknowledge button)."""
    try:
        delivery = services.ack_link_verify(token)
    except services.AckLinkExpired:
        return render(request, "alerting/ack.html", {"state": "expired"}, status=410)
    except services.AckLinkInvalid:
        return render(request, "alerting/ack.html", {"state": "invalid"}, status=400)
    campaign = delivery.campaign
    recipient = delivery.recipient
    choices = answer_set.choices_of(campaign.answers)
    errors: dict[str, list[str]] = {}
    minutes_value = request.POST.get("minutes", "")[:10] if request.method == "POST" else ""
    status = 200
    if request.method == "POST":
        if choices and "answer" in request.POST:
            answer = _answer_from(request.POST.get("answer"), len(choices))
            minutes, errors["minutes"] = _minutes_from(request.POST.get("minutes"))
            if answer is None:
                errors["answer"] = [str(_("Choose one of the answers."))]
            if answer is not None and not errors["minutes"]:
                try:
                    services.recipient_answer(
                        recipient=recipient, answer=answer, minutes=minutes, via="link", delivery=delivery,
                    )
                except ValidationError as exc:
                    errors.update({key: [str(m) for m in value] for key, value in exc.message_dict.items()})
            status = 400 if any(errors.values()) else 200
        elif not (campaign.status == CampaignStatus.CANCELLED or campaign.closed_at):
            services.acknowledgement_record(delivery=delivery)
        recipient.refresh_from_db()
    ack = Acknowledgement.objects.filter(recipient_id=recipient.pk).first()
    closed = campaign.status == CampaignStatus.CANCELLED or campaign.closed_at is not None
    state = "done" if ack else ("closed" if closed else "ask")
    answer_label = next((c.label for c in choices if c.number == recipient.answer), "")
    return render(request, "alerting/ack.html", {
        "state": state, "delivery": delivery, "campaign": campaign, "recipient": recipient, "ack": ack,
        "choices": [] if closed else choices, "rendezvous": campaign.rendezvous, "errors": errors,
        "answer_label": answer_label, "minutes_value": minutes_value,
    }, status=status)


# SMS callbacks (Kannel calls them on loopback) ---------------------------------------------


def _sms_provider(name: str) -> Any:
    for provider in providers_for("sms"):
        if provider.name == name:
            return provider
    raise Http404


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def sms_receipt(request: HttpRequest, provider: str) -> HttpResponse:
    """A delivery report: the signed dlr-url is the credential."""
    try:
        receipts = _sms_provider(provider).parse_receipt(request)
    except PermissionDenied:
        return HttpResponse("forbidden", status=403, content_type="text/plain")
    applied = services.sms_receipts_record(receipts=receipts)
    return HttpResponse(f"{applied}", content_type="text/plain")


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def sms_reply(request: HttpRequest, provider: str) -> HttpResponse:
    """An SMS from a phone (MO): the shared secret in the sms-service URL is the
    credential. The answer is empty: nothing is sent back to the phone."""
    try:
        replies = _sms_provider(provider).parse_reply(request)
    except PermissionDenied:
        return HttpResponse("forbidden", status=403, content_type="text/plain")
    for reply in replies:
        services.sms_reply_record(sender=reply.sender, text=reply.text)
    return HttpResponse("", content_type="text/plain")


# On-call rotations (astreintes) --------------------------------------------------------------


class RotationForm(BootstrapFormMixin, forms.Form):
    establishment = forms.ModelChoiceField(label=_("Establishment"), queryset=Establishment.objects.none())
    name = forms.CharField(label=_("Name"), max_length=200)
    period = forms.ChoiceField(label=_("Period"), choices=RotationPeriod.choices, initial=RotationPeriod.WEEKLY)
    handoff_time = forms.TimeField(
        label=_("Handoff time"), initial="08:00", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    starts_on = forms.DateField(label=_("First shift on"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    members = forms.ModelMultipleChoiceField(
        label=_("Members, in turn order (by name)"), queryset=Person.objects.none(),
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["establishment"].queryset = Establishment.objects.visible_to(user, Perm.MANAGE_PEOPLE)  # type: ignore[attr-defined]
        self.fields["members"].queryset = Person.objects.visible_to(user, Perm.MANAGE_PEOPLE).order_by(  # type: ignore[attr-defined]
            "last_name", "first_name"
        )


class OverrideForm(BootstrapFormMixin, forms.Form):
    person = forms.ModelChoiceField(label=_("Who takes the duty"), queryset=Person.objects.none())
    starts_at = forms.DateTimeField(label=_("From"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(label=_("To"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def __init__(self, *args: Any, rotation: OnCallRotation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = Person.objects.filter(  # type: ignore[attr-defined]
            memberships__establishment=rotation.establishment
        ).distinct()


@login_required
def oncall_now_page(request: HttpRequest) -> HttpResponse:
    """Who is on call now, and who is next, in every rotation in scope."""
    rotations = list(oncall.rotation_list(user=request.user))
    return render(request, "alerting/oncall_now.html", {
        "rows": oncall.oncall_now(rotations=rotations), "may_manage": rights.may_send_alerts_somewhere(request.user),
    })


@login_required
@require_http_methods(["GET", "POST"])
def rotation_new(request: HttpRequest) -> HttpResponse:
    form = RotationForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        rotation = run_service(form, lambda: oncall.rotation_create(
            actor=request.user, establishment=data["establishment"], name=data["name"], period=data["period"],
            handoff_time=data["handoff_time"], starts_on=data["starts_on"], members=list(data["members"]),
        ))
        if rotation is not None:
            return redirect("alerting:rotation_detail", pk=rotation.pk)
    return render(request, "alerting/rotation_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def rotation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rotation = oncall.get_rotation_for_user(user=request.user, rotation_id=pk)
    may_manage = can(request.user, Perm.MANAGE_PEOPLE, rotation.establishment)
    form = OverrideForm(request.POST or None, rotation=rotation) if may_manage else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            done = run_service(form, lambda: oncall.override_create(
                actor=request.user, rotation=rotation, person=data["person"], starts_at=data["starts_at"],
                ends_at=data["ends_at"],
            ))
            if done is not None:
                return redirect("alerting:rotation_detail", pk=rotation.pk)
    now = timezone.now()
    shifts = oncall.shifts_between(rotation, now, now + timedelta(days=28))
    members = [m.person for m in rotation.members.select_related("person")]
    feeds = [
        (person, request.build_absolute_uri(reverse(
            "alerting:oncall_ical", kwargs={"person_id": person.pk, "token": oncall.ical_token(person.pk)}
        )))
        for person in members
    ] if may_manage else []
    return render(request, "alerting/rotation_detail.html", {
        "rotation": rotation, "shifts": shifts, "form": form, "feeds": feeds, "members": members,
    })


@never_cache
def oncall_ical(request: HttpRequest, person_id: int, token: str) -> HttpResponse:
    """A person's shifts for calendar applications: the signed address is the
    credential."""
    if not oncall.ical_token_valid(person_id, token):
        raise Http404
    person = get_object_or_404(Person, pk=person_id)
    response = HttpResponse(oncall.ical_feed(person=person), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="astreintes-{person_id}.ics"'
    return response


# Escalation ------------------------------------------------------------------------------------


class PolicyForm(BootstrapFormMixin, forms.Form):
    """A policy of up to three levels; a level is one person, one rotation or a group."""

    establishment = forms.ModelChoiceField(label=_("Establishment"), queryset=Establishment.objects.none())
    name = forms.CharField(label=_("Name"), max_length=200)
    channels = forms.MultipleChoiceField(
        label=_("Channels, in order of fallback"), widget=forms.CheckboxSelectMultiple, choices=Channel.choices,
    )
    LEVELS = 3

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["establishment"].queryset = Establishment.objects.visible_to(user, Perm.MANAGE_PEOPLE)  # type: ignore[attr-defined]
        self.fields["channels"].widget.attrs.pop("class", None)
        people = Person.objects.visible_to(user, Perm.MANAGE_PEOPLE).order_by("last_name", "first_name")
        rotations = OnCallRotation.objects.visible_to(user, Perm.MANAGE_PEOPLE)
        for i in range(1, self.LEVELS + 1):
            self.fields[f"level{i}_kind"] = forms.ChoiceField(
                label=_("Level %(n)s: who") % {"n": i}, required=i == 1,
                choices=[("", "-"), *LevelKind.choices],
            )
            self.fields[f"level{i}_person"] = forms.ModelChoiceField(label=_("Person"), queryset=people, required=False)
            self.fields[f"level{i}_rotation"] = forms.ModelChoiceField(
                label=_("Rotation"), queryset=rotations, required=False,
            )
            self.fields[f"level{i}_people"] = forms.ModelMultipleChoiceField(
                label=_("Group"), queryset=people, required=False,
            )
            self.fields[f"level{i}_wait"] = forms.IntegerField(
                label=_("Wait for acknowledgement (seconds)"), min_value=0, max_value=86400, initial=300,
                required=False,
            )
            self.fields[f"level{i}_repeats"] = forms.IntegerField(
                label=_("Repeats"), min_value=0, max_value=20, initial=0, required=False,
            )
            for name in ("kind", "person", "rotation", "people", "wait", "repeats"):
                self.fields[f"level{i}_{name}"].widget.attrs.setdefault(
                    "class", "form-select" if name in ("kind", "person", "rotation", "people") else "form-control"
                )

    def level_inputs(self) -> list[escalation.LevelInput]:
        data = self.cleaned_data
        levels = []
        for i in range(1, self.LEVELS + 1):
            kind = data.get(f"level{i}_kind")
            if not kind:
                continue
            levels.append(escalation.LevelInput(
                kind=kind, person=data.get(f"level{i}_person"), rotation=data.get(f"level{i}_rotation"),
                people=list(data.get(f"level{i}_people") or []),
                wait_seconds=data.get(f"level{i}_wait") if data.get(f"level{i}_wait") is not None else 300,
                repeats=data.get(f"level{i}_repeats") or 0,
            ))
        return levels

    def level_rows(self) -> list[list[Any]]:
        return [
            [self[f"level{i}_{name}"] for name in ("kind", "person", "rotation", "people", "wait", "repeats")]
            for i in range(1, self.LEVELS + 1)
        ]


class EscalationStartForm(BootstrapFormMixin, forms.Form):
    policy = forms.ModelChoiceField(label=_("Escalation policy"), queryset=EscalationPolicy.objects.none())
    title = forms.CharField(label=_("Title"), max_length=200)
    message = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 3}))
    is_exercise = forms.BooleanField(
        label=_("Exercise (every message is marked EXERCICE EXERCICE EXERCICE)"), required=False, initial=True,
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["policy"].queryset = EscalationPolicy.objects.visible_to(user, Perm.MANAGE_PEOPLE)  # type: ignore[attr-defined]


@login_required
def escalation_list(request: HttpRequest) -> HttpResponse:
    return render(request, "alerting/escalation_list.html", {
        "escalations": escalation.escalation_list(user=request.user)[:100],
        "policies": escalation.policy_list(user=request.user).prefetch_related("levels"),
        "may_manage": rights.may_send_alerts_somewhere(request.user),
    })


@login_required
@require_http_methods(["GET", "POST"])
def policy_new(request: HttpRequest) -> HttpResponse:
    form = PolicyForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        policy = run_service(form, lambda: escalation.policy_create(
            actor=request.user, establishment=data["establishment"], name=data["name"],
            channels=data["channels"], levels=form.level_inputs(),
        ))
        if policy is not None:
            return redirect("alerting:escalation_list")
    return render(request, "alerting/policy_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def escalation_new(request: HttpRequest) -> HttpResponse:
    form = EscalationStartForm(request.POST or None, user=request.user, initial={
        "policy": request.GET.get("policy"),
    })
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        started = run_service(form, lambda: escalation.escalation_start(
            actor=request.user, policy=data["policy"], title=data["title"], message=data["message"],
            is_exercise=data["is_exercise"],
        ))
        if started is not None:
            return redirect("alerting:escalation_detail", pk=started.pk)
    return render(request, "alerting/escalation_new.html", {"form": form})


def _escalation_context(item: Escalation) -> dict[str, Any]:
    levels = item.policy_snapshot.get("levels", [])
    return {
        "escalation": item, "levels": levels, "level_number": min(item.level, max(0, len(levels) - 1)) + 1,
        "steps": item.steps.select_related("campaign").order_by("seq"),
    }


@login_required
@require_http_methods(["GET", "POST"])
def escalation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = escalation.get_escalation_for_user(user=request.user, escalation_id=pk)
    if request.method == "POST":
        if request.POST.get("action") == "cancel":
            escalation.escalation_cancel(actor=request.user, escalation=item)
        else:
            escalation.escalation_acknowledge(actor=request.user, escalation=item)
        return redirect("alerting:escalation_detail", pk=item.pk)
    return render(request, "alerting/escalation_detail.html", _escalation_context(item))


@login_required
def escalation_state(request: HttpRequest, pk: int) -> HttpResponse:
    """The live part of the escalation page, polled every 2 seconds."""
    item = escalation.get_escalation_for_user(user=request.user, escalation_id=pk)
    return render(request, "alerting/_escalation_state.html", _escalation_context(item))


@login_required
@require_http_methods(["GET", "POST"])
def alerts_to_acknowledge(request: HttpRequest) -> HttpResponse:
    """My alerts: those sent to me that I have not acknowledged, one button each."""
    errors: dict[str, list[str]] = {}
    failed_id = None
    if request.method == "POST":
        try:
            recipient_id = int(request.POST.get("recipient", ""))
        except ValueError:
            raise Http404 from None
        if "answer" in request.POST:
            answer = _answer_from(request.POST.get("answer"))
            minutes, errors["minutes"] = _minutes_from(request.POST.get("minutes"))
            if answer is None:
                errors["answer"] = [str(_("Choose one of the answers."))]
            if not any(errors.values()):
                try:
                    services.answer_in_app(
                        user=request.user, recipient_id=recipient_id, answer=answer or 0, minutes=minutes,
                    )
                except ValidationError as exc:
                    errors.update({key: [str(m) for m in value] for key, value in exc.message_dict.items()})
            if any(errors.values()):
                failed_id = recipient_id
        else:
            services.acknowledgement_in_app(user=request.user, recipient_id=recipient_id)
        if failed_id is None:
            messages.success(request, _("Received: thank you, the crisis cell can see it."))
            return redirect("alerting:to_acknowledge")
    pending = list(selectors.alerts_to_acknowledge(user=request.user)[:50])
    for recipient in pending:
        recipient.text = selectors.alert_text_for(recipient)
        recipient.choices = answer_set.choices_of(recipient.campaign.answers)
        recipient.errors = errors if recipient.pk == failed_id else {}
        recipient.field_id = f"minutes-{recipient.pk}"
        recipient.minutes_value = request.POST.get("minutes", "")[:10] if recipient.pk == failed_id else ""
    return render(request, "alerting/to_acknowledge.html", {"pending": pending}, status=400 if failed_id else 200)
