from __future__ import annotations

import base64
from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from planblanc.accounts import services
from planblanc.accounts.forms import ApiTokenForm, GrantAccessForm, LoginForm, TwoFactorForm
from planblanc.accounts.models import ApiToken, AuditEntry, RoleAssignment
from planblanc.core.forms import run_service
from planblanc.tenancy import Perm, get_for_user, has_perm_somewhere


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "/"


@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """Verify a TOTP code; enrol an authenticator first if the user has none."""
    user = request.user
    if user.is_verified():  # type: ignore[union-attr]
        return redirect(_safe_next(request))
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    enrolling = device is None
    if enrolling:
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or services.totp_device_start(user=user)
    form = TwoFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        ok = (
            services.totp_device_confirm(user=user, device=device, token=code)
            if enrolling
            else device.verify_token(code)
        )
        if ok:
            otp_login(request, device)
            return redirect(_safe_next(request))
        form.add_error("code", _("This code is wrong or has expired. Type the code your app shows now."))
    context = {"form": form, "enrolling": enrolling, "next": _safe_next(request)}
    if enrolling:
        context["qr_svg"] = segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#000", light="#fff")
        context["secret"] = _base32_secret(device)
    return render(request, "accounts/two_factor.html", context)


def _base32_secret(device: TOTPDevice) -> str:
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            _token, new_key = services.api_token_create(
                actor=request.user, name=form.cleaned_data["name"], valid_days=form.cleaned_data["valid_days"]
            )
            form = ApiTokenForm()
        except ValidationError as exc:
            form.add_error(None, exc)
    tokens = ApiToken.objects.filter(user=request.user)
    return render(request, "accounts/api_tokens.html", {"form": form, "tokens": tokens, "new_key": new_key})


@login_required
@require_POST
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    services.api_token_revoke(actor=request.user, token=token)
    messages.success(request, _("The token “%(name)s” is revoked.") % {"name": token.name})
    return redirect("accounts:api_tokens")


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    if not has_perm_somewhere(request.user, Perm.VIEW_AUDIT):
        raise Http404
    entries = AuditEntry.objects.visible_to(request.user, Perm.VIEW_AUDIT).select_related("establishment")
    action = request.GET.get("action", "").strip()
    if action:
        entries = entries.filter(action__startswith=action)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "accounts/audit_log.html", {"page": page, "action": action})


@login_required
def access_list(request: HttpRequest) -> HttpResponse:
    """Who may log in to the establishments I administer, with which role."""
    if not has_perm_somewhere(request.user, Perm.MANAGE_ACCESS):
        raise Http404
    assignments = (
        RoleAssignment.objects.visible_to(request.user, Perm.MANAGE_ACCESS)
        .select_related("user", "establishment", "region", "group")
        .order_by("establishment__name", "user__username")
    )
    form = GrantAccessForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            granted = run_service(form, lambda: services.access_grant(
                actor=request.user, username=data["username"], role=data["role"],
                establishment=data["establishment"], password=data["password"], email=data["email"],
                first_name=data["first_name"], last_name=data["last_name"],
            ))
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
            granted = None
        if granted is not None:
            messages.success(request, _("Role given to %(user)s.") % {"user": granted.user.get_username()})
            return redirect("accounts:access_list")
    return render(request, "accounts/access.html", {"assignments": assignments, "form": form})


@login_required
@require_POST
def access_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    assignment = get_for_user(
        request.user, RoleAssignment.objects.select_related("user", "establishment"), Perm.MANAGE_ACCESS, pk=pk
    )
    try:
        services.role_revoke(actor=request.user, assignment=assignment)
        messages.success(request, _("Role removed."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("accounts:access_list")



class LogoutView(auth_views.LogoutView):
    """Logging out also empties what the installed app kept offline on this device
    (plan pages with phone numbers): the browser clears its caches and storage."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        response["Clear-Site-Data"] = '"cache", "storage"'
        return response
