"""The French catalogue is complete, its placeholders match the English msgids, the
compiled .mo files say what the .po files say, and pages are French first.

French is the language of the users (hospital staff); msgids are English. After adding
UI strings, refresh the catalogues with scripts/translations-check (it lists what is
left to translate)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import polib
import pytest
from django.urls import reverse

import planblanc

LOCALE = Path(planblanc.__file__).resolve().parent / "locale"
FRENCH_PO = LOCALE / "fr" / "LC_MESSAGES" / "django.po"

# %(name)s, %(n)d, %s, {name}, {}: what Python and Django substitute. A literal %% is no
# placeholder. HTML tags count too: a lost <code> changes the page.
PLACEHOLDER = re.compile(r"%%|%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%[sdifr]|\{\w*\}|</?[a-z]+")


def placeholders(text: str) -> Counter[str]:
    return Counter(p for p in PLACEHOLDER.findall(text) if p != "%%")


def describe(entry: polib.POEntry) -> str:
    where = ", ".join(f"{path}:{line}" for path, line in entry.occurrences[:2])
    return f"{entry.msgid!r} ({where})" if where else repr(entry.msgid)


@pytest.fixture(scope="module")
def french() -> polib.POFile:
    return polib.pofile(str(FRENCH_PO))


def test_it_has_a_french_catalogue_with_french_plural_rules(french: polib.POFile) -> None:
    assert french.metadata["Language"] == "fr"
    # French: 0 and 1 take the singular.
    assert french.metadata["Plural-Forms"].replace(" ", "") == "nplurals=2;plural=(n>1);"
    assert len(french) > 100


def test_it_translates_every_french_entry(french: polib.POFile) -> None:
    untranslated = [describe(e) for e in french.untranslated_entries() if not e.obsolete]
    assert not untranslated, "untranslated French entries:\n" + "\n".join(untranslated)


def test_it_leaves_no_fuzzy_french_entry(french: polib.POFile) -> None:
    fuzzy = [describe(e) for e in french.fuzzy_entries() if not e.obsolete]
    assert not fuzzy, "fuzzy French entries (check the wording, then drop the flag):\n" + "\n".join(fuzzy)


def test_it_keeps_the_placeholders_of_each_msgid(french: polib.POFile) -> None:
    mismatches = []
    for entry in french.translated_entries():
        if entry.msgid_plural:
            forms = entry.msgstr_plural
            # The last form is the plural one; the others may drop the count ("un…").
            allowed = placeholders(entry.msgid) | placeholders(entry.msgid_plural)
            last = max(forms)
            pairs = [(entry.msgid_plural, forms[last])]
            for index, text in forms.items():
                if not set(placeholders(text)) <= set(allowed):
                    mismatches.append(f"{describe(entry)} msgstr[{index}]={text!r}")
        else:
            pairs = [(entry.msgid, entry.msgstr)]
        for source, translation in pairs:
            if placeholders(source) != placeholders(translation):
                mismatches.append(f"{describe(entry)} -> {translation!r}")
    assert not mismatches, "placeholders differ:\n" + "\n".join(mismatches)


def test_it_translates_without_typographic_traps(french: polib.POFile) -> None:
    # English quotes left in a French string, or stray spaces that break layouts.
    wrong = [
        describe(e)
        for e in french.translated_entries()
        for text in ([e.msgstr] if not e.msgid_plural else list(e.msgstr_plural.values()))
        if "“" in text or "”" in text or (text != text.strip() and e.msgid == e.msgid.strip())
    ]
    assert not wrong, "French strings with English quotes or stray spaces:\n" + "\n".join(wrong)


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext's msgfmt is not installed")
@pytest.mark.parametrize("language", ["fr", "en"])
def test_it_passes_msgfmt_checks(language: str) -> None:
    # What compilemessages will refuse: a format directive that differs, e.g. "10 % is"
    # taken by xgettext for the directive "% i".
    po_path = LOCALE / language / "LC_MESSAGES" / "django.po"
    result = subprocess.run(
        ["msgfmt", "--check", "-o", "/dev/null", str(po_path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("language", ["fr", "en"])
def test_it_ships_compiled_catalogues_that_match_their_sources(language: str) -> None:
    po_path = LOCALE / language / "LC_MESSAGES" / "django.po"
    mo_path = po_path.with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path} is missing: run compilemessages"
    compiled = {(e.msgctxt, e.msgid): e for e in polib.mofile(str(mo_path))}
    stale = []
    for entry in polib.pofile(str(po_path)).translated_entries():
        found = compiled.get((entry.msgctxt, entry.msgid))
        expected = entry.msgstr_plural if entry.msgid_plural else entry.msgstr
        got = None if found is None else (found.msgstr_plural if entry.msgid_plural else found.msgstr)
        if got != expected:
            stale.append(describe(entry))
    assert not stale, f"{mo_path} is older than its .po, run compilemessages:\n" + "\n".join(stale)


def test_it_renders_the_login_page_in_french_by_default(client, db) -> None:
    # A browser set to English does not turn the page to English by itself.
    response = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    page = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="fr">' in page
    assert "Mot de passe" in page
    assert "Identifiant" in page
    assert "Password" not in page


def test_it_renders_the_login_page_in_english_after_switching(client, db) -> None:
    login = reverse("accounts:login")
    response = client.post(reverse("set_language"), {"language": "en", "next": login}, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == login
    assert '<html lang="en">' in page
    assert "Password" in page
    assert "Mot de passe" not in page

    response = client.post(reverse("set_language"), {"language": "fr", "next": login}, follow=True)
    assert "Mot de passe" in response.content.decode()
