from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from planblanc.accounts.audit import request_context
from planblanc.tenancy import needs_two_factor


def client_ip(request: HttpRequest) -> str | None:
    # Behind a proxy, django-axes' ipware settings decide which header is trusted.
    from axes.helpers import get_client_ip_address

    return get_client_ip_address(request) or None


class RequestContextMiddleware:
    """Makes "from where" available to the audit log for the whole request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        via = "api" if request.path.startswith("/api/") else "web"
        with request_context(
            ip_address=client_ip(request), user_agent=request.headers.get("User-Agent", ""), via=via
        ):
            return self.get_response(request)


class RequireTwoFactorMiddleware:
    """Administrators must confirm a TOTP code after their password before going anywhere."""

    EXEMPT_PREFIXES = ("/static/", "/api/", "/i18n/", "/healthz")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not user.is_verified()  # type: ignore[union-attr]
            and not request.path.startswith(self.EXEMPT_PREFIXES)
            and not request.path.startswith(reverse("accounts:two_factor"))
            and request.path != reverse("accounts:logout")
            and needs_two_factor(user)
        ):
            if request.headers.get("HX-Request"):
                # A fragment polled by the page (the worker badge) would get the whole
                # two-factor page swapped into the menu, which polls again: answer nothing.
                return HttpResponse(status=204)
            return redirect(f"{reverse('accounts:two_factor')}?next={request.get_full_path()}")
        return self.get_response(request)
