"""An API client authenticated by a fresh personal token, as a script would be."""

from __future__ import annotations

from typing import Any

from django.test import Client

from planblanc.accounts.services import api_token_create


def token_client(user: Any, *, language: str | None = "en", name: str = "tests", **headers: Any) -> Client:
    """A client sending `Authorization: Bearer <token>` for `user` (and Accept-Language,
    unless `language` is None)."""
    _token, key = api_token_create(actor=user, name=name)
    if language is not None:
        headers.setdefault("HTTP_ACCEPT_LANGUAGE", language)
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}", **headers)
