"""Schemathesis against a live server, every check, for three personas (national,
regional, establishment): 0 server errors and 0 schema violations.

Bounded for the suite: a few examples per operation and a time budget per persona
(PLANBLANC_SCHEMATHESIS_EXAMPLES and PLANBLANC_SCHEMATHESIS_SECONDS raise them for a
long run). Runs on SQLite, and on PostgreSQL with DATABASE_URL set."""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.failures import FailureGroup

from planblanc.accounts.services import api_token_create
from tests.crisis.conftest import approved_plan, crisis, logbook_guards_allow_flush  # noqa: F401 (fixtures)
from tests.plans.conftest import complete_plan, director  # noqa: F401 (fixtures)

EXAMPLES = int(os.environ.get("PLANBLANC_SCHEMATHESIS_EXAMPLES", "2"))
SECONDS = float(os.environ.get("PLANBLANC_SCHEMATHESIS_SECONDS", "45"))

# What must never happen. Other checks run too (and are reported), but they judge the
# API's business answers (a 403 for a valid body outside the persona's scope, a 404 for an
# id that does not exist), which are right here.
SERVER_ERROR = {"ServerError"}
SCHEMA_VIOLATIONS = {
    "UndefinedStatusCode", "UndefinedContentType", "MissingContentType", "MalformedMediaType", "MalformedJson",
    "JsonSchemaError", "ContentDeserializationError", "DiscriminatorMismatch", "MissingHeaders",
}
# An operation that answers without the token it requires would be a hole.
SECURITY = {"IgnoredAuth"}
MUST_NOT = SERVER_ERROR | SCHEMA_VIOLATIONS | SECURITY


def run_schemathesis(base_url: str, token: str, *, path_regex: str | None = None
                     ) -> tuple[Counter[str], list[str], int]:
    """(failures by check name, a few descriptions, operations covered)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
    if path_regex:
        schema = schema.include(path_regex=path_regex)
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "fr"}
    failures: Counter[str] = Counter()
    examples: list[str] = []
    covered = 0
    deadline = time.monotonic() + SECONDS
    for result in schema.get_all_operations():
        if time.monotonic() > deadline:
            break
        operation = result.ok()
        covered += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def probe(case: Any) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=20)
            try:
                case.validate_response(response, headers=headers)
            except FailureGroup as group:
                for failure in group.exceptions:
                    name = type(failure).__name__
                    failures[name] += 1
                    if name in MUST_NOT and len(examples) < 20:
                        examples.append(f"{name}: {case.method} {case.formatted_path} → "
                                        f"{response.status_code} {response.text[:200]}")
            except AssertionError as failure:  # a single failed check
                name = type(failure).__name__
                failures[name] += 1
                if len(examples) < 20:
                    examples.append(f"{name}: {case.method} {case.formatted_path} → {response.status_code}")

        probe()
    return failures, examples, covered


@pytest.mark.parametrize("persona", ["national_admin", "regional_officer", "establishment_admin"])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    persona: str, world: Any, crisis: Any, live_server: Any, logbook_guards_allow_flush: Any,  # noqa: F811
) -> None:
    _token, key = api_token_create(actor=world.users[persona], name="schemathesis")
    failures, examples, covered = run_schemathesis(live_server.url, key)
    print(f"{persona}: {covered} operations, failures by check: {dict(failures)}")
    assert covered >= 10
    bad = {name: count for name, count in failures.items() if name in MUST_NOT}
    assert not bad, "\n".join(examples)


def test_the_harness_does_see_a_server_error(world: Any, live_server: Any, monkeypatch: Any) -> None:
    """The run above would notice a 500: an operation made to fail is reported."""
    from planblanc.directory import selectors

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "person_list", broken)
    _token, key = api_token_create(actor=world.national_admin, name="schemathesis")
    failures, _examples, covered = run_schemathesis(live_server.url, key, path_regex=r"^/api/v1/directory/people$")
    assert covered >= 1
    assert failures["ServerError"] >= 1
