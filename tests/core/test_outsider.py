"""The web app manifest is the same for everyone: an outsider (the clinic's
administrator, region B), a user of the CHU and an anonymous visitor get the same
document, which names no establishment."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client
from django.urls import reverse

from tests.conftest import verified_client


def test_the_manifest_says_nothing_of_any_tenant(world: Any) -> None:
    url = reverse("core:manifest")
    answers = [client.get(url, HTTP_ACCEPT_LANGUAGE="fr") for client in (
        Client(), verified_client(world.outsider_admin), verified_client(world.establishment_admin))]
    assert {response.status_code for response in answers} == {200}
    documents = [json.loads(response.content) for response in answers]
    assert documents[0] == documents[1] == documents[2]
    text = answers[1].content.decode()
    for establishment in (world.chu, world.ch, world.ehpad, world.clinic):
        assert establishment.name not in text and establishment.finess not in text
