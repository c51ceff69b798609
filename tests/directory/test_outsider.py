"""Directory routes named one by one against an outsider (the clinic's administrator,
region B), an officer of another region and an anonymous visitor: the exports and the
API lists hold only their own scope, and no establishment is created outside it."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.test import Client
from django.urls import reverse

from planblanc.directory.models import Establishment
from planblanc.directory.validators import finess_with_check_digit
from tests.support.api import token_client


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _csv_column(content: bytes, index: int) -> list[str]:
    return [row[index] for row in list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))[1:]]


def _new_establishment(world: Any, region: Any) -> dict[str, Any]:
    return {"finess": finess_with_check_digit("69990001"), "name": "Hôpital intrus", "category": "ch",
            "region": region.pk, "group": "", "address": "", "postal_code": "", "city": "", "switchboard_phone": ""}


def test_the_outsider_exports_only_its_own_clinic(world: Any, client_for: Any) -> None:
    outsider = client_for("outsider_admin")
    people = outsider.get(reverse("directory:person_export", args=["csv"]))
    assert people.status_code == 200
    assert _csv_column(_body(people), 0) == ["Cliniqueperson"]
    establishments = outsider.get(reverse("directory:establishment_export", args=["csv"]))
    assert establishments.status_code == 200
    assert _csv_column(_body(establishments), 0) == [world.clinic.finess]
    # Filtering on an establishment of region A gives nothing rather than its people.
    filtered = outsider.get(reverse("directory:person_export", args=["csv"]), {"establishment": world.chu.pk})
    assert _csv_column(_body(filtered), 0) == []
    for fmt in ("csv", "xlsx"):
        body = _body(outsider.get(reverse("directory:establishment_export", args=[fmt])))
        assert world.chu.finess.encode() not in body and b"Chuperson" not in body


def test_the_outsider_may_not_create_an_establishment(world: Any, client_for: Any) -> None:
    outsider = client_for("outsider_admin")
    count = Establishment.objects.count()
    url = reverse("directory:establishment_create")
    # The clinic's administrator manages its own record: the form opens, offering its own
    # region only, and creating a new establishment anywhere is refused.
    page = outsider.get(url)
    assert page.status_code == 200
    assert list(page.context["form"].fields["region"].queryset) == [world.region_b]
    for region in (world.region_a, world.region_b):
        response = outsider.post(url, _new_establishment(world, region))
        assert response.status_code == 200 and response.context["form"].errors, region.code
    # The regional officer of region A may create in region A, not in region B.
    response = client_for("regional_officer").post(url, _new_establishment(world, world.region_b))
    assert response.status_code == 200 and response.context["form"].errors
    anonymous = Client().post(url, _new_establishment(world, world.region_a))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("accounts:login"))
    assert Client().get(reverse("directory:person_export", args=["csv"])).status_code == 302
    assert Establishment.objects.count() == count


def test_the_api_lists_only_the_outsiders_region_and_groups(world: Any) -> None:
    outsider = token_client(world.outsider_admin)
    regions = outsider.get("/api/v1/directory/regions")
    assert regions.status_code == 200
    assert [r["code"] for r in regions.json()] == ["RB"]
    groups = outsider.get("/api/v1/directory/groups")
    assert groups.status_code == 200 and groups.json() == []
    assert "GHT-A" in token_client(world.group_ciso).get("/api/v1/directory/groups").content.decode()
    assert Client().get("/api/v1/directory/regions").status_code == 401
    assert Client().get("/api/v1/directory/groups").status_code == 401
