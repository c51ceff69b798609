"""Template tags of the crisis console's second part."""

from __future__ import annotations

from typing import Any

from django import template

from planblanc.crisis.notifications import notification_clocks

register = template.Library()


@register.simple_tag
def crisis_notification_clocks(crisis: Any) -> list[Any]:
    """The regulatory notifications of the crisis with their clocks (for the console)."""
    return notification_clocks(crisis=crisis)
