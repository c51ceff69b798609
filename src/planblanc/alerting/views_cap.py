"""CAP 1.2 pages, thin over cap.py: download a regional campaign as CAP, and receive a
CAP message (upload or paste, a preview of what it would start, then confirm)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from planblanc import rights
from planblanc.alerting import cap, selectors
from planblanc.core.forms import BootstrapFormMixin, run_service

MAX_CAP_BYTES = cap.MAX_CAP_BYTES


class CapReceiveForm(BootstrapFormMixin, forms.Form):
    file = forms.FileField(label=_("CAP file (XML)"), required=False)
    xml = forms.CharField(label=_("Or paste the CAP message"), widget=forms.Textarea(attrs={"rows": 6}), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is not None:
            if upload.size > MAX_CAP_BYTES:
                raise ValidationError(_("The CAP file is too large (1 MB at most)."))
            data["content"] = upload.read()
        else:
            data["content"] = (data.get("xml") or "").strip().encode()
        if not data["content"]:
            raise ValidationError(_("Choose a CAP file or paste a CAP message."))
        return data


@login_required
def cap_download(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.get_campaign_for_user(user=request.user, campaign_id=pk)
    try:
        content = cap.cap_export(campaign)
    except ValidationError as exc:
        raise Http404 from exc
    response = HttpResponse(content, content_type="application/cap+xml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campagne-{campaign.pk}.cap.xml"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def cap_receive_page(request: HttpRequest) -> HttpResponse:
    if not rights.may_receive_cap(request.user):
        raise PermissionDenied
    form = CapReceiveForm(request.POST or None, request.FILES or None)
    draft = None
    if request.method == "POST" and form.is_valid():
        content = form.cleaned_data["content"]
        if request.POST.get("confirm"):
            try:
                campaign = run_service(form, lambda: cap.cap_receive(actor=request.user, xml=content))
            except PermissionDenied:
                form.add_error(None, _("You are not allowed to send alerts here."))
                campaign = None
            if campaign is not None:
                return redirect("alerting:campaign_detail", pk=campaign.pk)
        else:
            draft = run_service(form, lambda: cap.cap_parse(content))
            if draft is not None:
                try:
                    cap.cap_scope(actor=request.user, draft=draft)
                except PermissionDenied:
                    form.add_error(None, _("You are not allowed to send alerts here."))
                    draft = None
        if draft is not None:
            return render(request, "alerting/cap/receive.html", {
                "form": form, "draft": draft, "xml": content.decode("utf-8", "replace"),
                "people_count": len(draft.people()),
            })
    return render(request, "alerting/cap/receive.html", {"form": form, "draft": None})
