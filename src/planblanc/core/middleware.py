from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


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
