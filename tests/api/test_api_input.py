"""The API never answers 500 on hostile input: strict bodies, bounded integers, NUL and
lone surrogates refused with 422, no number taken for a date, and every error is JSON in
the caller's language, with each status documented in the OpenAPI schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from planblanc.accounts.services import api_token_create
from planblanc.crisis.models import CrisisTask
from planblanc.directory.models import Person
from tests.crisis.conftest import approved_plan, crisis  # noqa: F401 (fixtures)
from tests.plans.conftest import complete_plan, director  # noqa: F401 (fixtures)


def token_client(user: Any, language: str = "en") -> Client:
    _token, key = api_token_create(actor=user, name="api tests")
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_ACCEPT_LANGUAGE=language)


def post(client: Client, path: str, body: str | bytes, method: str = "post") -> Any:
    return getattr(client, method)(path, data=body, content_type="application/json")


@pytest.fixture
def admin_client(world: Any) -> Client:
    return token_client(world.establishment_admin)


def test_a_bare_json_string_does_not_create_a_task(world: Any, crisis: Any) -> None:  # noqa: F811
    client = token_client(world.establishment_admin)
    before = CrisisTask.objects.count()
    for body in ['"Couper les accès VPN"', "[1, 2]", "42", "null"]:
        response = post(client, f"/api/v1/crisis/{crisis.pk}/tasks", body)
        assert response.status_code == 422, (body, response.content)
        assert "JSON object" in response.json()["detail"]
    assert CrisisTask.objects.count() == before


def test_zero_is_not_a_date(world: Any, crisis: Any) -> None:  # noqa: F811
    client = token_client(world.establishment_admin)
    response = post(client, f"/api/v1/crisis/{crisis.pk}/tasks", json.dumps({"title": "x", "due_at": 0}))
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][-1] == "due_at"
    ok = post(client, f"/api/v1/crisis/{crisis.pk}/tasks",
              json.dumps({"title": "x", "due_at": "2026-03-12T09:00:00+01:00"}))
    assert ok.status_code == 201


@pytest.mark.parametrize("path", [
    "/api/v1/directory/people?limit=99999999999999999999999",
    "/api/v1/directory/people?offset=-99999999999999999999999",
    "/api/v1/directory/people/99999999999999999999999",
    "/api/v1/directory/establishments?region_id=18446744073709551616",
    "/api/v1/directory/people?q=%00",
    "/api/v1/directory/people?function=a%00b",
])
def test_huge_integers_and_nul_in_queries_get_422(admin_client: Client, path: str) -> None:
    response = admin_client.get(path)
    assert response.status_code == 422, response.content
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("body", [
    '{"first_name": "L\\u0000a"}',
    '{"first_name": "\\ud800"}',
    '{"first_name": "x", "job_title": "\\udfff\\ud800"}',
    '{"first_name": NaN}',
    '{"first_name": "x", "n": 1e999999}',
    '{"first_name": "x", "n": 123456789012345678901234567890}',
    b'{"first_name": "\xff\xfe"}',
])
def test_nul_surrogates_and_out_of_range_numbers_in_bodies_get_422(world: Any, admin_client: Client,
                                                                    body: Any) -> None:
    person = world.chu_person
    response = post(admin_client, f"/api/v1/directory/people/{person.pk}", body, method="patch")
    assert response.status_code == 422, response.content
    assert Person.objects.get(pk=person.pk).first_name == person.first_name


def test_explicit_null_is_refused_on_each_field_never_a_500(world: Any, admin_client: Client) -> None:
    person = world.chu_person
    for field in ("first_name", "last_name", "job_title", "email", "mobile_phone", "landline_phone",
                  "preferred_language"):
        response = post(admin_client, f"/api/v1/directory/people/{person.pk}", json.dumps({field: None}),
                        method="patch")
        assert response.status_code in (200, 422), (field, response.content)
    establishment = world.chu
    for field in ("finess", "name", "category", "address", "postal_code", "city", "switchboard_phone",
                  "is_priority", "is_essential_operator", "group_id"):
        response = post(admin_client, f"/api/v1/directory/establishments/{establishment.pk}",
                        json.dumps({field: None}), method="patch")
        assert response.status_code in (200, 403, 422), (field, response.content)


def test_every_error_under_api_is_json_in_the_callers_language(world: Any) -> None:
    french = token_client(world.establishment_admin, "fr")
    response = french.get("/api/v1/nulle-part")
    assert response.status_code == 404
    english = token_client(world.establishment_admin, "en").get("/api/v1/nulle-part")
    assert english.status_code == 404
    assert set(response.json()) == set(english.json()) == {"detail"}
    assert response.json()["detail"] != english.json()["detail"]  # each in its language
    response = Client(HTTP_ACCEPT_LANGUAGE="fr").get("/api/v1/directory/people")
    assert response.status_code == 401 and "detail" in response.json()
    response = post(french, f"/api/v1/directory/people/{world.chu_person.pk}", '{"first_name": "\\u0000"}',
                    method="patch")
    assert "NUL" in response.json()["detail"] and "caractère" in response.json()["detail"]


def test_a_server_error_under_api_is_json(world: Any, admin_client: Client, monkeypatch: Any) -> None:
    from planblanc.directory import selectors

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "person_list", broken)
    client = admin_client
    client.raise_request_exception = False
    response = client.get("/api/v1/directory/people")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert "boom" not in response.content.decode()


def test_request_bodies_are_capped_on_pages_and_api(world: Any, admin_client: Client, settings: Any) -> None:
    settings.PLANBLANC_MAX_UPLOAD_BYTES = 1024
    big = json.dumps({"first_name": "x" * 400_000})
    response = post(admin_client, f"/api/v1/directory/people/{world.chu_person.pk}", big, method="patch")
    assert response.status_code == 413 and "detail" in response.json()
    page = Client().post("/connexion/", data=big, content_type="application/json")
    assert page.status_code == 413


def test_the_schema_documents_every_error_status(admin_client: Client) -> None:
    schema = admin_client.get("/api/v1/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status in ("400", "401", "403", "404", "405", "409", "413", "422", "500"):
                assert status in operation["responses"], (method, path, status)
