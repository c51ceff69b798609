"""Campaign message templates: `{variable}` placeholders, checked when the campaign is
written and filled per recipient at send time, then wrapped in the per-channel,
per-language text of templates/alerting/messages/ (exercise marking, acknowledgement
link)."""

from __future__ import annotations

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


def template_fill(text: str, *, name: str, establishment: str, title: str) -> str:
    return text.format(name=name, establishment=establishment, title=title)


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    short_text: str


def render(
    *, title: str, text: str, language: str, is_exercise: bool, ack_url: str, scope: str, short: bool = True
) -> Rendered:
    """Subject and body for email-like channels; `short`: also the one-line text for
    SMS and voice."""
    language = "en" if language == "en" else "fr"
    context = {"title": title, "text": text, "is_exercise": is_exercise, "ack_url": ack_url, "scope": scope}
    subject = f"{EXERCISE_MARK} {title}" if is_exercise else title
    return Rendered(
        subject=subject,
        body=get_template(f"alerting/messages/email_{language}.txt").render(context).strip() + "\n",
        short_text=get_template(f"alerting/messages/short_{language}.txt").render(context).strip() if short else "",
    )
