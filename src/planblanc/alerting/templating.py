"""Campaign message templates: `{variable}` placeholders, checked when the campaign is
written and filled per recipient at send time, then wrapped in the per-channel,
per-language text of templates/alerting/messages/ (exercise marking, acknowledgement
link)."""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.template.loader import get_template
from django.utils.translation import gettext as _

# Name → what it becomes for each recipient.
TEMPLATE_VARIABLES = {
    "name": "the recipient's name",
    "establishment": "the recipient's establishment",
    "title": "the campaign's title",
    # A personal link given per recipient by the caller (an awareness invitation); empty otherwise.
    "link": "the recipient's personal link",
}
EXERCISE_MARK = "EXERCICE EXERCICE EXERCICE"


def template_check(text: str) -> None:
    """Raise ValidationError naming any placeholder that does not exist."""
    try:
        fields = [field for _literal, field, _spec, _conv in string.Formatter().parse(text) if field is not None]
    except ValueError as exc:
        raise ValidationError(
            _("The message has an unmatched brace: write {{ and }} for a literal brace. (%(error)s)"),
            params={"error": exc},
        ) from exc
    unknown = sorted({field for field in fields if field not in TEMPLATE_VARIABLES})
    if unknown:
        raise ValidationError(
            _("The variable %(names)s does not exist. Available: %(available)s."),
            params={
                "names": ", ".join("{" + name + "}" for name in unknown) or "{}",
                "available": ", ".join("{" + name + "}" for name in TEMPLATE_VARIABLES),
            },
        )


def template_fill(text: str, *, name: str, establishment: str, title: str, link: str = "") -> str:
    return text.format(name=name, establishment=establishment, title=title, link=link)


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    short_text: str


# Stand-ins for the per-recipient parts: the wrapping text is rendered once per
# campaign, language and channel kind, then filled for each recipient (a template
# render per message costs as much as the SMTP exchange on a large campaign).
_TEXT = "\x00text\x00"
_TITLE = "\x00title\x00"
_ACK = "\x00ack\x00"


@functools.lru_cache(maxsize=512)
def _skeleton(kind: str, language: str, is_exercise: bool, has_ack: bool, scope: str) -> str:
    context = {
        "title": _TITLE, "text": _TEXT, "is_exercise": is_exercise, "ack_url": _ACK if has_ack else "",
        "scope": scope,
    }
    return get_template(f"alerting/messages/{kind}_{language}.txt").render(context).strip()


def render(
    *, title: str, text: str, language: str, is_exercise: bool, ack_url: str, scope: str, short: bool = True
) -> Rendered:
    """Subject and body for email-like channels; `short`: also the one-line text for
    SMS and voice."""
    language = "en" if language == "en" else "fr"
    key = (language, is_exercise, bool(ack_url), scope)

    def fill(kind: str) -> str:
        return _skeleton(kind, *key).replace(_TITLE, title).replace(_TEXT, text).replace(_ACK, ack_url)

    subject = f"{EXERCISE_MARK} {title}" if is_exercise else title
    return Rendered(subject=subject, body=fill("email") + "\n", short_text=fill("short") if short else "")
