"""The one template tag that asks planblanc.rights: `{% may "right" obj as flag %}`.

The names a template may ask are those of rights.TEMPLATE_RIGHTS; the actor is the
request's user. An unknown name is an error, so a typo cannot hide a button."""

from __future__ import annotations

from typing import Any

from django import template

from planblanc import rights

register = template.Library()


@register.simple_tag(takes_context=True)
def may(context: template.Context, right: str, *objects: Any) -> bool:
    predicate = rights.TEMPLATE_RIGHTS[right]
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    return bool(predicate(user, *objects))
