"""Answers beyond "received": a campaign may ask a question with 2 to 6 answers,
numbered from 1. The default set (crisis cell alerts) is

    1 "Je viens" (with an arrival delay in minutes), 2 "Je ne peux pas", 3 "Disponible à distance";

a custom poll gives its own labels. The number is what a person types: "1 20" by SMS
(coming in 20 minutes), 1/2/3 on the phone keypad, or the button of the same rank on
the acknowledgement page, in the app, in a push notification or a chat room.

Every channel records an answer through one service, `services.recipient_answer`;
this module only describes the answers and reads them out of a text."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

COMING = "coming"
CANNOT = "cannot"
REMOTE = "remote"
CUSTOM = "custom"
KINDS = (COMING, CANNOT, REMOTE, CUSTOM)

# The default question of a crisis cell alert.
DEFAULT_ANSWERS: list[dict[str, str]] = [{"kind": COMING}, {"kind": CANNOT}, {"kind": REMOTE}]
MIN_ANSWERS, MAX_ANSWERS = 2, 6
MAX_LABEL = 80
# An arrival delay beyond a day is a typing error.
MAX_MINUTES = 24 * 60

LABELS = {
    COMING: gettext_lazy("I am coming"),
    CANNOT: gettext_lazy("I cannot come"),
    REMOTE: gettext_lazy("Available remotely"),
}
# Fixed texts for the SMS and the voice prompt, per language (in the GSM 7-bit alphabet).
_SHORT = {
    "fr": {COMING: "je viens", CANNOT: "je ne peux pas", REMOTE: "à distance"},
    "en": {COMING: "coming", CANNOT: "cannot come", REMOTE: "remote"},
}
# Words accepted by SMS instead of the number (upper case, without accents).
SMS_WORDS = {
    COMING: {"OUI", "YES", "VIENS", "JARRIVE", "ARRIVE", "COMING"},
    CANNOT: {"NON", "NO", "IMPOSSIBLE", "CANNOT"},
    REMOTE: {"DISTANCE", "REMOTE", "TELETRAVAIL"},
}


@dataclass(frozen=True)
class AnswerChoice:
    number: int
    kind: str
    label: str
    asks_minutes: bool


def answers_clean(answers: Any) -> list[dict[str, str]]:
    """The answers as stored on a campaign, or ValidationError. Accepts the kinds of
    the default set and custom labels ({"kind": "custom", "label": "…"})."""
    if not answers:
        return []
    if not isinstance(answers, (list, tuple)):
        raise ValidationError(_("The answers must be a list."))
    if not MIN_ANSWERS <= len(answers) <= MAX_ANSWERS:
        raise ValidationError(
            _("A question has between %(min)d and %(max)d answers.") % {"min": MIN_ANSWERS, "max": MAX_ANSWERS}
        )
    cleaned = []
    for item in answers:
        if isinstance(item, str):
            item = {"kind": item} if item in LABELS else {"kind": CUSTOM, "label": item}
        kind = str(item.get("kind", CUSTOM)) if isinstance(item, dict) else ""
        if kind not in KINDS:
            raise ValidationError(_("Unknown answer: %(kind)s.") % {"kind": kind})
        if kind == CUSTOM:
            label = " ".join(str(item.get("label", "")).split())
            if not label:
                raise ValidationError(_("Every answer needs a label."))
            if len(label) > MAX_LABEL:
                raise ValidationError(_("An answer has at most %(max)d characters.") % {"max": MAX_LABEL})
            cleaned.append({"kind": CUSTOM, "label": label})
        else:
            cleaned.append({"kind": kind})
    labels = [choice.label.casefold() for choice in choices_of(cleaned)]
    if len(set(labels)) != len(labels):
        raise ValidationError(_("Two answers have the same label."))
    return cleaned


def choices_of(answers: list[dict[str, str]]) -> list[AnswerChoice]:
    """The answers of a campaign, numbered from 1, labelled in the active language."""
    return [
        AnswerChoice(
            number=number, kind=item.get("kind", CUSTOM),
            label=str(LABELS[item["kind"]]) if item.get("kind") in LABELS else item.get("label", ""),
            asks_minutes=item.get("kind") == COMING,
        )
        for number, item in enumerate(answers or [], start=1)
    ]


def _short_label(item: dict[str, str], language: str) -> str:
    return _SHORT["en" if language == "en" else "fr"].get(item.get("kind", ""), item.get("label", ""))


def sms_hint(answers: list[dict[str, str]], *, language: str) -> str:
    """How to answer by SMS, appended to the text (GSM 7-bit characters only)."""
    parts = []
    for number, item in enumerate(answers, start=1):
        label = _short_label(item, language)
        if item.get("kind") == COMING:
            example = "ex. 1 20 = dans 20 min" if language != "en" else "e.g. 1 20 = in 20 min"
            parts.append(f"{number} {label} ({example})")
        else:
            parts.append(f"{number} {label}")
    lead = "Reply" if language == "en" else "Repondez"
    return f"{lead}: " + ", ".join(parts)


def voice_prompt(answers: list[dict[str, str]], *, language: str) -> str:
    """The keypad menu read at the end of a call."""
    if language == "en":
        return " ".join(f"Press {n} for: {_short_label(item, 'en')}." for n, item in enumerate(answers, start=1))
    return " ".join(f"Tapez {n} pour : {_short_label(item, 'fr')}." for n, item in enumerate(answers, start=1))


def _plain(word: str) -> str:
    word = unicodedata.normalize("NFKD", word)
    return "".join(c for c in word if not unicodedata.combining(c)).upper().replace("'", "").replace("\u2019", "")


_MINUTES = re.compile(r"^(\d{1,4})(?:MIN|MN|M)?$")


def answer_parse(text: str, answers: list[dict[str, str]]) -> tuple[int, int | None] | None:
    """(answer number, minutes or None) read from an SMS or keypad text, or None when
    the text is not an answer: "1", "1 20", "1 20min", "OUI 20", "NON", "2", "3"."""
    words = _plain(text or "").replace(",", " ").replace(".", " ").replace("*", " ").replace("#", " ").split()
    if not words or not answers:
        return None
    first, rest = words[0], words[1:]
    number: int | None = None
    if first.isdigit() and 1 <= int(first) <= len(answers):
        number = int(first)
    elif (
        first.isdigit() and len(first) > 1 and 1 <= int(first[0]) <= len(answers)
        and answers[int(first[0]) - 1].get("kind") == COMING
    ):
        # A keypad sequence "120" (1 then 20): "coming", and the delay.
        number, rest = int(first[0]), [first[1:], *rest]
    else:
        for position, item in enumerate(answers, start=1):
            if first in SMS_WORDS.get(item.get("kind", ""), set()):
                number = position
                break
    if number is None:
        return None
    minutes = None
    if answers[number - 1].get("kind") == COMING and rest:
        match = _MINUTES.match(rest[0])
        if match and int(match[1]) <= MAX_MINUTES:
            minutes = int(match[1])
    return number, minutes
