"""Which spaces of an exercise run the current user may open, so that each role sees
only the links it can follow (a player sees no animator or observer link)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def exercise_spaces(context: Any, exercise: Any) -> dict[str, bool]:
    from planblanc.exercises import run as run_services

    user = context["request"].user
    animate = run_services.run_may_animate(actor=user, exercise=exercise)
    return {
        "animate": animate,
        "observe": run_services.run_may_observe(actor=user, exercise=exercise),
        "play": run_services.run_may_play(actor=user, exercise=exercise),
    }
