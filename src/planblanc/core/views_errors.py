"""Error pages in the user's language (French first), with the site's layout and a way
back, never a stack trace. Under /api/ the answer stays JSON, like the rest of the API.

A body larger than DATA_UPLOAD_MAX_MEMORY_SIZE reaches the 400 handler as
RequestDataTooBig: it is answered 413 with a message saying so (the page's script keeps
the typed text in the form)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _page(request: HttpRequest, status: int, title: str, text: str) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": text}, status=status)
    context: dict[str, Any] = {"status": status, "title": title, "text": text}
    try:
        html = render_to_string("errors/error.html", context, request=request)
    except Exception:  # the layout needs the database: fall back to a page without it
        logger.exception("error page layout failed")
        html = render_to_string("errors/bare.html", context)
    return HttpResponse(html, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        return _page(request, 413, _("Too large to send"), _(
            "What you sent is larger than the platform accepts (10 MB). Shorten the text or send the file "
            "separately. Go back: what you typed is still in the form."))
    if isinstance(exception, TooManyFieldsSent):
        return _page(request, 413, _("Too large to send"), _("The form sent has too many fields."))
    return _page(request, 400, _("Request not understood"), _(
        "The request could not be understood. Go back and try again."))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    text = str(exception) if exception is not None and str(exception) else _(
        "You are not allowed to do this. Ask the administrator of your establishment if you should be.")
    return _page(request, 403, _("Not allowed"), text)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 404, _("Page not found"), _(
        "This page does not exist, or it is outside what you may see."))


def server_error(request: HttpRequest) -> HttpResponse:
    return _page(request, 500, _("Server error"), _(
        "Something went wrong on the server. It has been logged. Try again in a moment; if it persists, "
        "use the paper kit and tell your administrator."))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    response = _page(request, 403, _("Form expired"), _(
        "This form has expired (security check). Go back, reload the page and send again: copy your text "
        "first if it is long."))
    response["X-PB-Reason"] = "csrf"  # the page's script says "expired", and keeps the text
    return response
