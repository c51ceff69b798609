"""Everything under /api/ answers JSON, in the caller's language, and never 500 on input.

Before the view: request bodies and query strings are checked once for what the database or
the JSON encoder cannot take — NUL characters, lone surrogates, integers beyond 64 bits,
NaN/Infinity — and a JSON body must be an object. Each is refused with 422 and says why.
After it: any answer that is not JSON (Django's 404 for an unknown path, 405, 413, an
unexpected exception) becomes a JSON answer `{"detail": …}` with the same status.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from django.db import DataError, IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

logger = logging.getLogger("planblanc.api")

API_PREFIX = "/api/"
INT_LIMIT = 2**63 - 1
_DIGITS = re.compile(r"^[+-]?\d+$")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class InputRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise InputRefused(_("%(where)s contains a NUL character, which is not accepted.") % {"where": where})
    if _SURROGATE.search(text):
        raise InputRefused(_("%(where)s contains an invalid character (a lone surrogate).") % {"where": where})


def _check_number_text(text: str, where: str) -> None:
    if _DIGITS.match(text.strip()) and abs(int(text)) > INT_LIMIT:
        raise InputRefused(_("%(where)s is a number too large.") % {"where": where})


def _walk(value: Any, where: str, depth: int = 0) -> None:
    if depth > 64:
        raise InputRefused(_("The request body is nested too deeply."))
    if isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if abs(value) > INT_LIMIT:
            raise InputRefused(_("%(where)s is a number too large.") % {"where": where})
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InputRefused(_("%(where)s is not a number.") % {"where": where})
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where)
            _walk(item, f"“{key[:60]}”", depth + 1)
    elif isinstance(value, list):
        for item in value:
            _walk(item, where, depth + 1)


def _refuse_nan(text: str) -> None:
    raise InputRefused(_("%(where)s is not a number.") % {"where": text})


def check_api_input(request: HttpRequest) -> None:
    """Raise InputRefused for input that no operation accepts."""
    for index, segment in enumerate(request.path.split("/")):
        _check_text(segment, _("The address"))
        if index > 2:
            _check_number_text(segment, _("The address"))
    for key, values in request.GET.lists():
        _check_text(key, _("The query"))
        for value in values:
            _check_text(value, f"“{key[:60]}”")
            _check_number_text(value, f"“{key[:60]}”")
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    content_type = request.content_type or ""
    if content_type != "application/json" and not content_type.endswith("+json"):
        return
    body = request.body
    if not body.strip():
        return
    try:
        document = json.loads(body, parse_constant=_refuse_nan)
    except UnicodeDecodeError as exc:
        raise InputRefused(_("The request body is not valid UTF-8.")) from exc
    except ValueError as exc:
        raise InputRefused(_("The request body is not valid JSON.")) from exc
    if not isinstance(document, dict):
        raise InputRefused(_("The request body must be a JSON object ({…}), not a bare value or a list."))
    _walk(document, _("The request body"))


def _detail_for(status: int) -> str:
    return {
        400: _("Bad request."),
        401: _("Authentication is required."),
        403: _("You are not allowed to do this."),
        404: _("Not found."),
        405: _("This method is not allowed here."),
        413: _("The request body is too large."),
        409: _("This change conflicts with the data already recorded."),
        422: _("Invalid data."),
        429: _("Too many requests: try again later."),
    }.get(status, _("The server could not answer this request. The error has been recorded."))


class ApiJsonMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        try:
            check_api_input(request)
        except InputRefused as exc:
            return JsonResponse({"detail": exc.message}, status=422)
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        if response.status_code >= 400 and "json" not in content_type:
            return JsonResponse({"detail": _detail_for(response.status_code)}, status=response.status_code)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX):
            return None
        if isinstance(exception, OverflowError | DataError):
            return JsonResponse({"detail": _("A value is out of range for this field.")}, status=422)
        if isinstance(exception, IntegrityError):
            logger.warning("API integrity error on %s %s: %s", request.method, request.path, exception)
            return JsonResponse({"detail": _("This change conflicts with the data already recorded.")}, status=409)
        logger.exception("API error on %s %s", request.method, request.path)
        return JsonResponse({"detail": _detail_for(500)}, status=500)
