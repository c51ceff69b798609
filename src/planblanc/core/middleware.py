from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.translation import gettext as _


class FrenchFirstLocaleMiddleware(LocaleMiddleware):
    """Pages are in French unless the person chose English with the language switch.

    A browser set to English is common on hospital workstations and personal phones;
    it should not turn the interface of a French crisis tool to English by itself.
    API clients may still ask with Accept-Language."""

    def process_request(self, request: HttpRequest) -> None:
        supported = dict(settings.LANGUAGES)
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in supported and request.path.startswith("/api/"):
            language = translation.get_language_from_request(request)
        if language not in supported:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class BodySizeLimitMiddleware:
    """Refuse a request whose declared body is larger than the upload cap
    (settings.PLANBLANC_MAX_UPLOAD_BYTES, plus room for a form's other fields) before
    anything reads it: the same cap on the pages and in the API."""

    MARGIN = 256 * 1024

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.PLANBLANC_MAX_UPLOAD_BYTES + self.MARGIN
        if length > limit:
            message = _("The request is larger than %(size)s MB: send a smaller file.") % {
                "size": settings.PLANBLANC_MAX_UPLOAD_BYTES // 2**20}
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
