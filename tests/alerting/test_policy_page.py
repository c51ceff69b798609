"""The new escalation policy page opens (it failed on GET, reading a form not yet validated)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse


def test_it_opens_the_new_policy_form(client_for: Any) -> None:
    response = client_for("establishment_admin").get(reverse("alerting:policy_new"))
    assert response.status_code == 200
    assert 'name="level1_kind"' in response.content.decode()
