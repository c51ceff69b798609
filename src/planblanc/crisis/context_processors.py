"""The crisis comes first: every page shows the active crises this login follows."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from planblanc.crisis.selectors import crises_active_for_user


def active_crises(request: HttpRequest) -> dict[str, Any]:
    """`active_crises`: read once per request, only by templates that show it (the base
    layout's banner), so partial answers such as the console's pollers cost nothing."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"active_crises": SimpleLazyObject(lambda: crises_active_for_user(user=user))}
