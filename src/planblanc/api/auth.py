from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from planblanc.accounts.services import api_token_authenticate
from planblanc.tenancy import needs_two_factor


class TokenAuth(HttpBearer):
    """`Authorization: Bearer pbn_…` with a personal token from the account page."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_authenticate(token)
        if user is not None:
            request.user = user
        return user


class VerifiedSessionAuth(SessionAuth):
    """The browser session, with the same two-factor rule as the pages."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user and needs_two_factor(user) and not user.is_verified():
            return None
        return user
