"""The exercise API: kits, exercises, injects CRUD, chronogramme JSON import/export;
outsiders get 404, read-only roles 403, bad input 422 with nothing saved."""

from __future__ import annotations

import json
from typing import Any

import pytest

from planblanc.exercises.models import Exercise
from tests.support.api import token_client

BASE = "/api/v1/exercises"


class Api:
    def __init__(self, user: Any) -> None:
        self.client = token_client(user, language=None)

    def get(self, path: str) -> Any:
        return self.client.get(BASE + path)

    def send(self, method: str, path: str, body: Any = None) -> Any:
        return getattr(self.client, method)(BASE + path, data=json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def api_for(world: Any) -> Any:
    return lambda persona: Api(world.users[persona])


@pytest.fixture
def exercise_id(world: Any, api_for: Any) -> int:
    response = api_for("exercise_animator").send(
        "post", "/", {"establishment_id": world.chu.pk, "kit_slug": "debutant-rancongiciel", "title": "API"}
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_it_lists_the_kits(api_for: Any) -> None:
    kits = api_for("auditor").get("/kits").json()
    assert [k["level"] for k in kits] == ["beginner", "intermediate", "confirmed"]
    assert [k["inject_count"] for k in kits] == [12, 36, 50]


def test_it_creates_edits_and_deletes_injects(api_for: Any, exercise_id: int) -> None:
    api = api_for("exercise_animator")
    assert api.get(f"/{exercise_id}").json()["inject_count"] == 12
    created = api.send("post", f"/{exercise_id}/injects", {
        "phase": "Bonus", "offset_minutes": 110, "channel": "social_post", "kind": "noise",
        "subject": "Tweet", "content": "Rumeur", "after": [12],
    })
    assert created.status_code == 201, created.content
    inject = created.json()
    assert inject["number"] == 13 and inject["after"] == [12]
    updated = api.send("put", f"/{exercise_id}/injects/{inject['id']}", {
        "number": 13, "offset_minutes": 115, "channel": "sms", "subject": "SMS", "after": [],
    })
    assert updated.status_code == 200 and updated.json()["channel"] == "sms"
    listed = api.get(f"/{exercise_id}/injects").json()
    assert [i["number"] for i in listed][-1] == 13  # sorted by time
    assert api.send("delete", f"/{exercise_id}/injects/{inject['id']}").status_code == 204
    assert len(api.get(f"/{exercise_id}/injects").json()) == 12


def test_it_refuses_cycles_unknown_channels_and_missing_dependencies(api_for: Any, exercise_id: int) -> None:
    api = api_for("exercise_animator")
    injects = {i["number"]: i for i in api.get(f"/{exercise_id}/injects").json()}
    # Inject 3 waits for 2: 2 waiting for 3 is a cycle.
    cycle = api.send("put", f"/{exercise_id}/injects/{injects[2]['id']}",
                     {"number": 2, "offset_minutes": 5, "subject": "x", "after": [3]})
    assert cycle.status_code == 422 and "2 → 3 → 2" in json.dumps(cycle.json(), ensure_ascii=False)
    bad_channel = api.send("post", f"/{exercise_id}/injects", {"offset_minutes": 1, "subject": "x", "channel": "fax"})
    assert bad_channel.status_code == 422
    missing = api.send("post", f"/{exercise_id}/injects", {"offset_minutes": 1, "subject": "x", "after": [77]})
    assert missing.status_code == 422
    assert len(api.get(f"/{exercise_id}/injects").json()) == 12
    assert api.get(f"/{exercise_id}/injects").json()[1]["subject"] != "x"


def test_it_round_trips_the_chronogramme_json(world: Any, api_for: Any, exercise_id: int) -> None:
    api = api_for("establishment_admin")
    document = api.get(f"/{exercise_id}/chronogramme").json()
    assert document["format_version"] == 1
    other = api.send("post", "/", {"establishment_id": world.chu.pk, "title": "Vide"}).json()["id"]
    imported = api.send("post", f"/{other}/chronogramme", document)
    assert imported.status_code == 200 and imported.json()["imported"] == 12
    assert api.get(f"/{other}/chronogramme").json()["injects"] == document["injects"]


def test_it_reports_json_errors_by_inject_and_saves_nothing(world: Any, api_for: Any) -> None:
    api = api_for("establishment_admin")
    other = api.send("post", "/", {"establishment_id": world.chu.pk, "title": "Vide"}).json()["id"]
    document = {"format": "planblanc-chronogramme", "format_version": 1, "injects": [
        {"number": 1, "subject": "ok", "offset_minutes": 0},
        {"number": 2, "subject": "bad", "channel": "pigeon", "offset_minutes": 5},
        {"number": 3, "subject": "dep", "after": [9], "offset_minutes": 10},
    ]}
    refused = api.send("post", f"/{other}/chronogramme", document)
    assert refused.status_code == 422
    errors = refused.json()["errors"]
    # Places are "inject 2", "inject 3" (translated): the position in the list, then the value.
    assert len(errors) == 2
    assert " 2 " in errors[0] and "pigeon" in errors[0] and " 3 " in errors[1] and "9" in errors[1]
    assert Exercise.objects.get(pk=other).injects.count() == 0
    partial = api.client.post(f"{BASE}/{other}/chronogramme?only_good_rows=true", data=json.dumps(document),
                              content_type="application/json")
    assert partial.status_code == 200 and partial.json()["imported"] == 1


@pytest.mark.parametrize("persona", ["auditor", "crisis_member"])
def test_it_refuses_writes_from_read_only_roles(api_for: Any, exercise_id: int, persona: str) -> None:
    api = api_for(persona)
    injects = api.get(f"/{exercise_id}/injects").json()
    assert len(injects) == 12
    assert api.send("post", f"/{exercise_id}/injects", {"offset_minutes": 1, "subject": "x"}).status_code == 403
    assert api.send("delete", f"/{exercise_id}/injects/{injects[0]['id']}").status_code == 403
    assert api.send("post", f"/{exercise_id}/chronogramme",
                    {"format": "planblanc-chronogramme", "format_version": 1, "injects": []}).status_code == 403
    assert len(api.get(f"/{exercise_id}/injects").json()) == 12


def test_it_gives_the_outsider_a_404_on_every_endpoint(api_for: Any, exercise_id: int) -> None:
    api = api_for("outsider_admin")
    inject_id = api_for("auditor").get(f"/{exercise_id}/injects").json()[0]["id"]
    assert api.get(f"/{exercise_id}").status_code == 404
    assert api.get(f"/{exercise_id}/injects").status_code == 404
    assert api.get(f"/{exercise_id}/injects/{inject_id}").status_code == 404
    assert api.send("put", f"/{exercise_id}/injects/{inject_id}", {"offset_minutes": 1, "subject": "x"}).status_code == 404
    assert api.send("delete", f"/{exercise_id}/injects/{inject_id}").status_code == 404
    assert api.get(f"/{exercise_id}/chronogramme").status_code == 404
    assert api.get("/").json() == []
