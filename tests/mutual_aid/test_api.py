"""The mutual-aid API: same services and scope as the pages (outsider 404, bad input 422)."""

from __future__ import annotations

import json

from django.test import Client

from planblanc.accounts.services import api_token_create


def api(user):
    _token, key = api_token_create(actor=user, name="t")
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def test_the_api_runs_a_request_within_the_scope(aid):
    w = aid.world
    member, ciso, outsider = api(w.crisis_member), api(w.group_ciso), api(w.outsider_admin)
    base = "/api/v1/mutual-aid"
    body = {"target_kind": "group", "kind": "equipment", "what": "PC autonomes", "quantity": 20, "urgency": "urgent",
            "deliver_to": "CHU A"}
    assert post(outsider, f"{base}/crises/{aid.crisis.pk}/requests", body).status_code == 404
    bad = post(member, f"{base}/crises/{aid.crisis.pk}/requests", body | {"quantity": 0})
    assert bad.status_code == 422 and "quantity" in bad.json()["errors"]
    created = post(member, f"{base}/crises/{aid.crisis.pk}/requests", body)
    assert created.status_code == 201
    request_id = created.json()["id"]
    assert outsider.get(f"{base}/requests/{request_id}").status_code == 404
    assert outsider.get(f"{base}/requests").json() == []
    offer = post(ciso, f"{base}/requests/{request_id}/offers", {"level": "group", "quantity": 12})
    assert offer.status_code == 201
    assert post(outsider, f"{base}/offers/{offer.json()['id']}/accept", {}).status_code == 404
    assert post(ciso, f"{base}/offers/{offer.json()['id']}/accept", {}).status_code == 404  # not the requester
    assert post(member, f"{base}/offers/{offer.json()['id']}/accept", {}).json()["status"] == "accepted"
    assert b"<RequestResource" in member.get(f"{base}/requests/{request_id}/edxl-rm").content
    board = api(w.regional_officer).get(f"{base}/regional-crises/{aid.regional.pk}/board")
    assert board.status_code == 200 and board.json()["establishments"][0]["open_requests"] == 1
    assert ciso.get(f"{base}/regional-crises/{aid.regional.pk}/board").status_code == 404
