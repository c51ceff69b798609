from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from planblanc.tenancy import Perm, has_perm_somewhere, roles_of


def platform(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"demo_mode": settings.DEMO_MODE}
    return {
        "demo_mode": settings.DEMO_MODE,
        "my_roles": roles_of(user),
        "may_view_audit": has_perm_somewhere(user, Perm.VIEW_AUDIT),
        "may_manage_people": has_perm_somewhere(user, Perm.MANAGE_PEOPLE),
        "may_manage_establishments": has_perm_somewhere(user, Perm.MANAGE_ESTABLISHMENTS),
        "may_manage_access": has_perm_somewhere(user, Perm.MANAGE_ACCESS),
    }
