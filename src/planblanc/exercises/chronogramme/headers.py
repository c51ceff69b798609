"""Header mapping and cell readers of a chronogramme: which field each column holds
(known headers, then misspelled ones by closeness), and what a channel, kind, state,
number or dependency cell says."""

from __future__ import annotations

import difflib
import re
import unicodedata
from typing import Any

from django.utils.translation import gettext_lazy

from planblanc.exercises.models import Channel, InjectKind

# The fields a column can be mapped to, in the order of the exported layout.
FIELDS: dict[str, Any] = {
    "number": gettext_lazy("Number"),
    "time": gettext_lazy("Time"),
    "phase": gettext_lazy("Phase"),
    "channel": gettext_lazy("Channel"),
    "sender": gettext_lazy("Simulated sender"),
    "target_cell": gettext_lazy("Target cell"),
    "target_role": gettext_lazy("Target role"),
    "subject": gettext_lazy("Subject"),
    "content": gettext_lazy("Content (stimulus)"),
    "attachments": gettext_lazy("Attachments"),
    "expected_reactions": gettext_lazy("Expected reactions"),
    "deadline": gettext_lazy("Reaction deadline"),
    "kind": gettext_lazy("Kind"),
    "dependencies": gettext_lazy("Send only after"),
    "comment": gettext_lazy("Comment for animators"),
    "deliverable": gettext_lazy("Deliverable"),
    "state": gettext_lazy("State (✅ kept, ❌ excluded)"),
    "real_time": gettext_lazy("Real time (when the time column is the story's)"),
}

# Exported header of each field (the usual French kit layout).
EXPORT_HEADERS = {
    "number": "N°",
    "time": "Heure",
    "phase": "Phase",
    "channel": "Canal",
    "sender": "Émetteur",
    "target_cell": "Cellule destinataire",
    "target_role": "Destinataire au sein de la cellule",
    "subject": "Objet",
    "content": "Stimulus",
    "attachments": "Pièces jointes",
    "expected_reactions": "Réactions attendues",
    "deadline": "Délai de réaction",
    "kind": "Type d'inject",
    "dependencies": "Après l'inject",
    "comment": "Commentaire",
    "deliverable": "Livrable",
    "state": "Etat",
    "real_time": "Heure réelle",
}

# Header recognition, most specific first; a header is compared once accents, case and
# punctuation are gone. Each field takes the first column that matches it.
_HEADER_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("target_role", re.compile(r"^(destinataire au sein|role( destinataire)?$|fonction destinataire)")),
    ("attachments", re.compile(r"^(input|pieces? jointes?|pj$|annexes?|supports?$)")),
    ("expected_reactions", re.compile(r"^reactions? attendues?")),
    ("deadline", re.compile(r"^(delai|echeance)")),
    ("dependencies", re.compile(r"^(apres l inject|apres|depend|prerequis)")),
    ("real_time", re.compile(r"^((heure|horaire|temps) (reelle?|effective?|de deroulement|d animation)|temps reel)")),
    ("number", re.compile(r"^(n|no|num|numero|n inject|id|inject|#)$|^(numero|n) (d )?(inject|stimul)")),
    ("time", re.compile(r"^(heure|horaire|h$|temps|time|t$|moment|date|frequence)")),
    ("phase", re.compile(r"^(phase|sequence|tango|etape)")),
    ("channel", re.compile(r"^(canal|vecteur|modalite|moyen|media|channel)")),
    ("sender", re.compile(r"^(emetteur|emeteur|expediteur|de$|from|source)")),
    ("target_cell", re.compile(r"^(cellule|destinataire|recepteur|a$|to|cible)")),
    ("subject", re.compile(r"^(objet|resume|titre|sujet|intitule)")),
    ("content", re.compile(r"^(stimul|contenu|message|descriptif|description|texte)")),
    ("kind", re.compile(r"^(type d inject|type de stimul|type d evenement|nature d|kind$|categorie)")),
    ("state", re.compile(r"^(etat|statut|state|status|actif|retenu)")),
    ("comment", re.compile(r"^(commentaire|remarque|note|consigne)")),
    ("deliverable", re.compile(r"^(livrable|production)")),
]

# Channel words found in kits, by the earliest word found in the cell.
_CHANNEL_WORDS: list[tuple[str, str]] = [
    ("sms", "sms"),
    ("texto", "sms"),
    ("message vocal", "voice"),
    ("vocal", "voice"),
    ("messagerie vocale", "voice"),
    ("voice", "voice"),
    ("appel journaliste", "press_call"),
    ("appel d un journaliste", "press_call"),
    ("journaliste", "press_call"),
    ("appel", "phone_call"),
    ("telephon", "phone_call"),
    ("phone", "phone_call"),
    ("mail", "email"),
    ("courriel", "email"),
    ("oral", "oral"),
    ("en personne", "oral"),
    ("physique", "oral"),
    ("article", "press_article"),
    ("presse", "press_article"),
    ("journal", "press_article"),
    ("reseau social", "social_post"),
    ("reseaux sociaux", "social_post"),
    ("tweet", "social_post"),
    ("twitter", "social_post"),
    ("linkedin", "social_post"),
    ("facebook", "social_post"),
    ("post", "social_post"),
]

_KIND_WORDS: list[tuple[str, str]] = [
    ("structur", "structuring"),
    ("satur", "saturating"),
    ("bruit", "noise"),
    ("parasit", "noise"),
    ("noise", "noise"),
]


def normalise(text: Any) -> str:
    """Lower case, no accents, punctuation as spaces: "N °" → "n", "Réactions" → "reactions"."""
    value = unicodedata.normalize("NFKD", str(text or ""))
    value = "".join(c for c in value if not unicodedata.combining(c)).lower()
    value = re.sub(r"[^a-z0-9#+]+", " ", value)
    return value.strip()


# Header words as kits write them, for misspelled headers ("Stmulis", "Canl"): the
# closest word at or above FUZZY_CUTOFF (difflib's ratio) names the field.
_HEADER_WORDS: dict[str, str] = {
    "stimulus": "content", "stimuli": "content", "contenu": "content", "message": "content",
    "heure": "time", "horaire": "time", "canal": "channel", "vecteur": "channel",
    "emetteur": "sender", "expediteur": "sender", "destinataire": "target_cell", "cellule": "target_cell",
    "objet": "subject", "intitule": "subject", "commentaire": "comment", "remarque": "comment",
    "phase": "phase", "sequence": "phase", "reactions": "expected_reactions", "attendues": "expected_reactions",
    "etat": "state", "statut": "state", "numero": "number", "livrable": "deliverable",
}
FUZZY_CUTOFF = 0.8


def guess_field(header: Any) -> str | None:
    text = normalise(header)
    if not text:
        return None
    for name, pattern in _HEADER_RULES:
        if pattern.search(text):
            return name
    first = text.split()[0]
    if len(first) >= 4:
        close = difflib.get_close_matches(first, list(_HEADER_WORDS), n=1, cutoff=FUZZY_CUTOFF)
        if close:
            return _HEADER_WORDS[close[0]]
    return None


def is_fuzzy_header(header: Any) -> bool:
    """The header was recognised only by its closeness to a known word (said in the
    mapping step so that the user checks it)."""
    text = normalise(header)
    return bool(text) and not any(p.search(text) for _n, p in _HEADER_RULES) and guess_field(header) is not None


# State cells: a row the file itself marks out of play.
_EXCLUDED_STATE = re.compile(r"(❌|✗|✘|\bexclu|\bannul|\bsupprim|\bnon retenu|\bnon\b|\bko\b|\bno\b)")
_INCLUDED_STATE = re.compile(r"(✅|✔|☑|\boui\b|\bok\b|\bretenu|\bactif|\bvalid)")


def parse_state(value: Any) -> bool | None:
    """True when a state cell excludes the row, False when it keeps it, None when it
    cannot be read."""
    raw = str(value or "").strip()
    if not raw or raw in {"-", "—"}:
        return False
    text = raw.lower()
    folded = normalise(raw)
    if _EXCLUDED_STATE.search(text) or _EXCLUDED_STATE.search(folded):
        return True
    if _INCLUDED_STATE.search(text) or _INCLUDED_STATE.search(folded):
        return False
    return None

def guess_mapping(headers: list[Any]) -> dict[int, str]:
    """Column index → field, each field given to the first column that matches it."""
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        name = guess_field(header)
        if name and name not in taken:
            mapping[index] = name
            taken.add(name)
    return mapping


def parse_channel(value: Any) -> str | None:
    """The channel named in a cell, None when none is recognised (empty cells: email)."""
    text = normalise(value)
    if text in Channel.values:
        return text
    if text.replace(" ", "_") in Channel.values:
        return text.replace(" ", "_")
    best: tuple[int, str] | None = None
    for word, channel in _CHANNEL_WORDS:
        position = text.find(word)
        if position >= 0 and (best is None or position < best[0]):
            best = (position, channel)
    return best[1] if best else None


def parse_kind(value: Any) -> str | None:
    text = normalise(value)
    if text in InjectKind.values:
        return text
    for word, kind in _KIND_WORDS:
        if word in text:
            return kind
    return None


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def header_score(row: tuple[Any, ...]) -> int:
    return len(set(guess_mapping(list(row)).values()))


def find_header(rows: list[tuple[Any, ...]]) -> tuple[int, int]:
    """(index of the header row within the first rows, its score)."""
    best = (0, 0)
    for index, row in enumerate(rows[:40]):
        score = header_score(row)
        if score > best[1]:
            best = (index, score)
    return best


def parse_number(value: Any) -> int | None | str:
    """An int, None for "-"/empty, or the text when it is not a number."""
    text = cell_text(value)
    if text in {"", "-", "—", "–", "x", "/"}:
        return None
    match = re.fullmatch(r"#?\s*(-?\d+)(?:\.0)?", text)
    if match:
        return int(match.group(1))
    return text


def parse_dependencies(value: Any) -> list[int] | None:
    text = cell_text(value)
    if not text or text in {"-", "x"}:
        return []
    parts = [p for p in re.split(r"[,;/\s]+|\bet\b", text) if p]
    numbers = []
    for part in parts:
        part = part.lstrip("#")
        if not part.isdigit():
            return None
        numbers.append(int(part))
    return numbers
