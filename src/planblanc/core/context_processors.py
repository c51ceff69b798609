from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from planblanc import rights
from planblanc.tenancy import roles_of


def platform(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"demo_mode": settings.DEMO_MODE}
    return {
        "demo_mode": settings.DEMO_MODE,
        "my_roles": roles_of(user),
        **rights.menu_rights(user),
    }
