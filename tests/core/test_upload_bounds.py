"""Bounds on the other files read from users: referential libraries (YAML), CAP messages
and logbook attachments."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from planblanc.alerting import cap
from planblanc.crisis import services as crisis_services
from planblanc.readiness import loader

LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_a_yaml_alias_bomb_is_refused_fast(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(LAUGHS * 20, encoding="utf-8")
    tracemalloc.start()
    started = time.process_time()
    with translation.override("en"), pytest.raises(loader.ReferentialFileError, match="not valid YAML"):
        loader.read_yaml(path)
    seconds = time.process_time() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seconds < 1.0 and peak < 50 * 2**20


def test_a_library_too_large_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_LIBRARY_BYTES", 1000)
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 2000, encoding="utf-8")
    with translation.override("en"), pytest.raises(loader.ReferentialFileError, match="larger than"):
        loader.read_yaml(path)


def test_a_cap_message_too_large_is_refused_in_the_service() -> None:
    xml = b'<?xml version="1.0"?><alert>' + b" " * cap.MAX_CAP_BYTES + b"</alert>"
    with translation.override("en"), pytest.raises(ValidationError, match="too large"):
        cap.cap_validate(xml)


def test_a_logbook_entry_holds_a_bounded_number_of_files() -> None:
    files = [crisis_services.AttachmentInput(name=f"{n}.txt", content=b"x")
             for n in range(crisis_services.MAX_ATTACHMENTS + 1)]
    with translation.override("en"), pytest.raises(ValidationError, match="at most 10 files"):
        crisis_services._validate_entry("event", "Texte", files)
