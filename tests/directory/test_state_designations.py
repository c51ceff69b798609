"""Priority and essential-services designations are made by the State (ARS, ministry): an
establishment or its group may not grant them to itself, nor remove them."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

from planblanc.directory import services
from planblanc.directory.models import Establishment


def _data(establishment: Establishment, **changes: Any) -> dict[str, Any]:
    fields = ("finess", "name", "category", "region", "group", "is_priority", "is_essential_operator",
              "address", "postal_code", "city", "switchboard_phone")
    return {name: getattr(establishment, name) for name in fields} | changes


def test_it_refuses_a_self_granted_designation_in_the_service(world: Any) -> None:
    with translation.override("en"), pytest.raises(services.StateDesignationDenied, match="regional health agency"):
        services.establishment_update(
            actor=world.users["establishment_admin"], establishment=world.chu,
            data=_data(world.chu, is_essential_operator=True),
        )
    assert Establishment.objects.get(pk=world.chu.pk).is_essential_operator is False


@pytest.mark.parametrize("persona", ["regional_officer", "national_admin"])
def test_it_lets_the_region_and_the_nation_designate(world: Any, persona: str) -> None:
    services.establishment_update(
        actor=world.users[persona], establishment=world.chu,
        data=_data(world.chu, is_essential_operator=True, is_priority=False),
    )
    stored = Establishment.objects.get(pk=world.chu.pk)
    assert (stored.is_essential_operator, stored.is_priority) == (True, False)


def test_it_shows_the_designations_read_only_to_the_establishment_admin(world: Any, client_for: Any) -> None:
    client = client_for("establishment_admin")
    page = client.get(reverse("directory:establishment_edit", args=[world.chu.pk]))
    assert page.status_code == 200
    form = page.context["form"]
    assert form.fields["is_priority"].disabled and form.fields["is_essential_operator"].disabled
    # A forged POST cannot change a disabled field: the stored value stays.
    post = {key: ("" if value is None else value) for key, value in _data(world.chu).items()}
    post.update(region=world.chu.region_id, group=world.chu.group_id, is_essential_operator="on")
    post.pop("is_priority")
    client.post(reverse("directory:establishment_edit", args=[world.chu.pk]), post)
    stored = Establishment.objects.get(pk=world.chu.pk)
    assert stored.is_essential_operator is False
    assert stored.is_priority is True
