"""`{{ user|may_receive_cap }}`: whether to offer the CAP reception page."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def may_receive_cap(user: Any) -> bool:
    from planblanc.alerting.views_cap import may_receive_cap as allowed

    return bool(getattr(user, "is_authenticated", False)) and allowed(user)
