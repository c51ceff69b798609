"""The pages are served a subset of Bootstrap's stylesheet (scripts/build_css.py): a page
that starts using a Bootstrap class the committed subset lacks would show unstyled."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _builder():
    spec = importlib.util.spec_from_file_location("build_css", ROOT / "scripts" / "build_css.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_subset_is_what_the_pages_use() -> None:
    builder = _builder()
    assert builder.SUBSET.read_text(encoding="utf-8") == builder.build(), (
        "the Bootstrap subset is stale: run .venv/bin/python scripts/build_css.py and commit it")


def test_the_subset_keeps_what_pages_need_and_drops_the_rest() -> None:
    builder = _builder()
    text = builder.SUBSET.read_text(encoding="utf-8")
    full = builder.FULL.read_text(encoding="utf-8")
    # Used by the layout, the console cards and the toasts (some built from variables).
    for selector in (".navbar-toggler", ".collapse:not(.show)", ".pb-cards" if ".pb-cards" in full else ".card",
                     ".alert-danger", ".text-bg-warning", ".btn-outline-primary", ".invalid-feedback",
                     ".visually-hidden-focusable"):
        assert selector in text, selector
    # Components no page uses.
    for selector in (".carousel", ".modal-backdrop", ".offcanvas", ".toast-header", ".accordion-button"):
        assert selector in full and selector not in text, selector
    assert len(text) < len(full) / 2


def test_no_page_loads_bootstraps_script_or_full_stylesheet() -> None:
    templates = list((ROOT / "src" / "planblanc").rglob("*.html"))
    for path in templates:
        html = path.read_text(encoding="utf-8")
        assert "bootstrap.bundle" not in html and "bootstrap.min.css" not in html, path
