"""Which spaces of an exercise run the current user may open, so that each role sees
only the links it can follow (a player sees no animator or observer link)."""

from __future__ import annotations

from typing import Any

from django import template

from planblanc import rights

register = template.Library()


@register.simple_tag(takes_context=True)
def exercise_spaces(context: Any, exercise: Any) -> dict[str, bool]:
    user = context["request"].user
    return {
        "animate": rights.may_animate_run(user, exercise),
        "observe": rights.may_observe_run(user, exercise),
        "play": rights.may_play_run(user, exercise),
    }
