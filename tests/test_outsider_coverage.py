"""Every URL pattern and every API operation must be in the outsider matrix: some test
that plays a persona of another tenant (outsider_admin, or a login outside the scope)
must reach it, expecting a 404 (or a refusal) and no data.

The matrix is read from the tests themselves: a route counts as covered when a test
that names an outsider reaches it (by its URL name or by its path). A new route that no
outsider test reaches fails this test; the routes below are either public by design or
known gaps, each listed by name so that the list can only shrink."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver

from planblanc.api.urls import api

TESTS = Path(__file__).parent

# Reached without a login, or not about a tenant's data: nothing to leak across tenants.
PUBLIC = {
    "core:home", "core:healthz", "core:worker_badge", "accounts:login", "accounts:logout", "accounts:two_factor",
    "set_language", "javascript-catalog", "favicon",
    # Callbacks of the SMS and voice providers (checked by their own secret) and the
    # participants' questionnaire (a signed link), and the national catalogue of kits.
    "alerting:sms_receipt", "alerting:sms_reply", "alerting:voice_callback", "exercises:questionnaire",
    "exercises:kits",
}
# The national catalogues and the caller's own account, the same for everyone.
PUBLIC_API = {
    "GET /api/v1/directory/me", "GET /api/v1/exercises/kits", "GET /api/v1/exercises/kits/{slug}/chronogramme",
    "GET /api/v1/readiness/referentials",
}

OUTSIDER = re.compile(r"outsider|other tenant|another tenant|region_b|clinic", re.I)


def _routes() -> Iterator[tuple[str, str]]:
    def walk(patterns: list, prefix: str, namespace: str | None) -> Iterator[tuple[str, str]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if str(pattern.pattern).startswith(("admin/", "api/")):
                    continue
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield (f"{namespace}:{pattern.name}" if namespace else pattern.name), prefix + str(pattern.pattern)

    yield from walk(get_resolver().url_patterns, "/", None)


@functools.cache
def _operations() -> tuple[tuple[str, str], ...]:
    schema = api.get_openapi_schema()
    return tuple((method.upper(), path) for path, methods in schema["paths"].items() for method in methods)


def _strings(node: ast.AST) -> Iterator[str]:
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            yield child.value
        elif isinstance(child, ast.JoinedStr):
            yield "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in child.values)


@functools.cache
def _outsider_texts() -> tuple[str, ...]:
    """The strings of each test module's top level and of its functions that involve an
    outsider."""
    texts: list[str] = []
    for path in sorted(TESTS.rglob("test_*.py")):
        if path.name == Path(__file__).name:
            continue
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.parse(source).body:
            segment = "\n".join(lines[node.lineno - 1:node.end_lineno])
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not OUTSIDER.search(segment):
                continue
            texts.extend(_strings(node))
    return tuple(texts)


def _pattern_regex(route: str) -> re.Pattern[str]:
    parts = re.split(r"(<[^>]+>|\{[^}]+\})", route)
    body = "".join("[^/]+" if part.startswith(("<", "{")) else re.escape(part) for part in parts)
    return re.compile(body)


@functools.cache
def _probes(texts: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The strings as names, and the path-like ones with placeholders made concrete."""
    paths = set()
    for text in texts:
        probe = text.replace("{}", "1").split("?", 1)[0]
        if probe.startswith("/") and " " not in probe:
            paths.update({probe, probe.rstrip("/") + "/"})
    return frozenset(texts), tuple(sorted(paths))


def _reached(texts: tuple[str, ...], name: str | None, route: str) -> bool:
    names, paths = _probes(texts)
    if name is not None and name in names:
        return True
    tail = route.split("/api/v1", 1)[-1]
    candidates = {route, tail, "/" + tail.lstrip("/").split("/", 1)[-1] if tail.count("/") > 1 else tail}
    regexes = [_pattern_regex(c) for c in candidates if c.strip("/")]
    return any(regex.fullmatch(path) for regex in regexes for path in paths)


# Known gaps, by name: routes no outsider test reaches yet. Only ever remove from here.
KNOWN_GAPS_PAGES: set[str] = {
    "alerting:campaign_close", "alerting:campaign_export", "alerting:campaign_progress", "alerting:devices",
    "alerting:rotation_new", "alerting:to_acknowledge", "core:manifest", "crisis:system_status", "directory:establishment_create",
    "directory:establishment_export", "directory:person_export", "exercises:cancel", "exercises:edit",
    "exercises:export_json", "exercises:export_xlsx", "exercises:import_upload", "exercises:inject_add",
    "exercises:participant_remove", "exercises:reaction_add", "exercises:reaction_delete",
    "exercises:run_console", "exercises:run_control", "exercises:run_evaluation",
    "exercises:run_observer", "exercises:run_report",
    "exercises:run_report_pdf", "exercises:run_start", "exercises:run_state", "mutual_aid:catalogue",
    "mutual_aid:catalogue_export", "mutual_aid:edxl_import", "mutual_aid:index",
    "mutual_aid:regional_list",
    "mutual_aid:request_create",
    "mutual_aid:resource_create", "mutual_aid:situation_report", "plans:approve", "plans:cell",
    "plans:compare", "plans:index", "plans:offline_index", "plans:part_delete", "plans:part_edit",
    "plans:part_list", "plans:reflex_sheet_add", "plans:reflex_sheet_edit", "plans:seat_deputies",
    "readiness:actions", "readiness:establishment", "readiness:governance", "readiness:index",
}
KNOWN_GAPS_API: set[str] = {
    "DELETE /api/v1/crisis/{crisis_id}/iocs/{indicator_id}",
    "DELETE /api/v1/crisis/{crisis_id}/logbook/{seq}", "GET /api/v1/crisis/{crisis_id}/iocs/export/{fmt}",
    "GET /api/v1/crisis/{crisis_id}/iocs/{indicator_id}", "GET /api/v1/directory/groups",
    "GET /api/v1/directory/regions", "GET /api/v1/mutual-aid/regional-crises/{regional_id}/board",
    "GET /api/v1/mutual-aid/requests/{request_id}", "GET /api/v1/mutual-aid/requests/{request_id}/edxl-rm",
    "GET /api/v1/mutual-aid/resources", "GET /api/v1/readiness/assessments/{assessment_id}",
    "PATCH /api/v1/crisis/{crisis_id}/logbook/{seq}",
    "POST /api/v1/crisis/{crisis_id}/status/departments/{row_id}",
    "POST /api/v1/crisis/{crisis_id}/status/systems/{row_id}",
    "POST /api/v1/crisis/{crisis_id}/tasks/{task_id}/status",
    "POST /api/v1/mutual-aid/crises/{crisis_id}/requests",
    "POST /api/v1/mutual-aid/crises/{crisis_id}/situation-reports",
    "POST /api/v1/mutual-aid/offers/{offer_id}/{action}",
    "POST /api/v1/mutual-aid/requests/{request_id}/offers",
    "PUT /api/v1/crisis/{crisis_id}/iocs/{indicator_id}", "PUT /api/v1/crisis/{crisis_id}/logbook/{seq}",
    "PUT /api/v1/readiness/assessments/{assessment_id}/measures/{measure_id}/answer",
}


def test_it_finds_every_page_in_the_outsider_matrix() -> None:
    texts = _outsider_texts()
    missing = sorted(
        name for name, route in _routes()
        if name not in PUBLIC and name not in KNOWN_GAPS_PAGES and not _reached(texts, name, route)
    )
    assert missing == [], "routes no outsider test reaches: " + ", ".join(missing)


def test_it_finds_every_api_operation_in_the_outsider_matrix() -> None:
    texts = _outsider_texts()
    missing = sorted(
        f"{method} {path}" for method, path in _operations()
        if f"{method} {path}" not in KNOWN_GAPS_API | PUBLIC_API and not _reached(texts, None, path)
    )
    assert missing == [], "API operations no outsider test reaches: " + ", ".join(missing)


def test_it_lists_only_gaps_that_still_exist() -> None:
    names = {name for name, _route in _routes()}
    operations = {f"{method} {path}" for method, path in _operations()}
    texts = _outsider_texts()
    assert names >= KNOWN_GAPS_PAGES and operations >= KNOWN_GAPS_API
    routes = dict(_routes())
    assert [name for name in sorted(KNOWN_GAPS_PAGES) if _reached(texts, name, routes[name])] == []
