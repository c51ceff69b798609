"""FINESS numbers: 9 characters, a département code, a Luhn check digit; refused with a
message that says why, by the validator, the model, the form and the API alike."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from planblanc.accounts.models import AuditEntry
from planblanc.directory import services
from planblanc.directory.forms import EstablishmentForm
from planblanc.directory.models import Establishment
from planblanc.directory.validators import (
    finess_normalize,
    finess_validate,
    finess_with_check_digit,
)
from tests.support.api import token_client


def luhn_valid(digits: str) -> bool:
    """The textbook Luhn test, written independently of the code under test."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 == 1 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def complete(first_eight: str) -> str:
    """The one digit that makes a Luhn-valid number (Corsica computed as "20")."""
    as_digits = first_eight.replace("2A", "20", 1).replace("2B", "20", 1)
    (digit,) = [d for d in "0123456789" if luhn_valid(as_digits + d)]
    return first_eight + digit


def error_of(raw: str) -> ValidationError:
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        finess_validate(raw)
    return caught.value


# Fictitious numbers in the real format (no real establishment is meant).
VALID_STEMS = ["75000003", "01012345", "13098765", "69123456", "95000001", "2A000001", "2B000042",
               "97100015", "97200099", "97300001", "97400123", "97500001", "97600007", "98000011"]


@pytest.mark.parametrize("stem", VALID_STEMS)
def test_it_accepts_valid_numbers(stem):
    number = complete(stem)
    assert finess_validate(number) == number
    # The helper used by the demo and the factories agrees with the textbook.
    assert finess_with_check_digit(stem) == number


def test_it_knows_a_published_style_example():
    # By hand: 3·2 + 5·2 → 1+0, + 7 = 14, so the check digit is 6.
    assert finess_validate("750000036") == "750000036"
    assert error_of("750000035").code == "finess_check_digit"


@pytest.mark.parametrize("written", ["75 000 003 6", " 750000036 ", "75\u00a0000\u00a0003\u00a06", "7500 00036"])
def test_it_strips_spaces(written):
    assert finess_validate(written) == "750000036"


def test_it_upper_cases_corsica():
    number = complete("2A000001")
    assert finess_validate(number.lower()) == number
    assert finess_normalize(" 2b 000 042 x") == "2B000042X"


@pytest.mark.parametrize(("raw", "count"), [("75000003", 8), ("7500000361", 10), ("", 0), ("7", 1)])
def test_it_refuses_a_wrong_length_and_says_the_count(raw, count):
    error = error_of(raw)
    assert error.code == "finess_length"
    assert "9 characters" in error.messages[0]
    assert f"has {count}" in error.messages[0]


@pytest.mark.parametrize("stem", ["75000003", "2A000001", "97100015", "98000011"])
def test_it_refuses_every_wrong_check_digit_and_names_the_right_one(stem):
    good = complete(stem)
    for wrong in "0123456789":
        if wrong == good[-1]:
            continue
        error = error_of(good[:-1] + wrong)
        assert error.code == "finess_check_digit"
        assert f"should be {good[-1]}, not {wrong}" in error.messages[0]


def test_it_refuses_a_swapped_pair_of_digits():
    good = complete("69123456")
    swapped = good[:3] + good[4] + good[3] + good[5:]
    assert swapped != good
    assert error_of(swapped).code == "finess_check_digit"


@pytest.mark.parametrize(
    ("stem", "shown"),
    [("00000001", "00"), ("20000001", "20"), ("96000001", "96"), ("99000001", "99"),
     ("97000001", "970"), ("97700001", "977"), ("97800001", "978"), ("97900001", "979"),
     ("2C000001", "2C"), ("AB000001", "AB")],
)
def test_it_refuses_a_bad_departement_and_shows_it(stem, shown):
    # Whatever the check digit: the département is checked first.
    number = stem + "0"
    error = error_of(number)
    assert error.code == "finess_departement"
    assert f"“{shown}” is not a département code" in error.messages[0]


def test_it_computes_corsica_check_digits_as_département_20():
    """As documented in validators.py: 2A/2B count as "20" in the Luhn sum."""
    for prefix in ("2A", "2B"):
        number = complete(f"{prefix}000001")
        assert luhn_valid("20" + number[2:])
        assert finess_validate(number) == number
    # The same digits under "20" itself are refused: 20 is no longer a département.
    assert error_of("20" + complete("2A000001")[2:]).code == "finess_departement"


def test_it_refuses_letters_after_the_departement():
    error = error_of("7500A0036")
    assert error.code == "finess_digits"
    assert "only digits" in error.messages[0]


# Model, form and API -------------------------------------------------------------------


BAD = {"check digit": "750000035", "length": "75000003", "département": "960000001"}


@pytest.mark.parametrize("bad", list(BAD.values()), ids=list(BAD))
def test_it_is_refused_by_the_model(world, bad):
    establishment = Establishment(finess=bad, name="Test", category="ch", region=world.region_a)
    with pytest.raises(ValidationError) as caught:
        establishment.full_clean()
    assert "finess" in caught.value.error_dict


def test_the_model_stores_the_normalised_number(world):
    establishment = Establishment(finess="75 000 003 6", name="Test", category="ch", region=world.region_a)
    establishment.full_clean()
    assert establishment.finess == "750000036"


def _form_data(world: Any, finess: str) -> dict[str, Any]:
    return {"finess": finess, "name": "Nouveau CH", "category": "ch", "region": world.region_a.pk}


@pytest.mark.parametrize("bad", list(BAD.values()), ids=list(BAD))
def test_it_is_refused_by_the_form_with_the_reason(world, bad):
    with translation.override("en"):
        form = EstablishmentForm(_form_data(world, bad), user=world.national_admin)
        assert not form.is_valid()
        message = " ".join(form.errors["finess"])
    assert any(word in message for word in ("check digit", "9 characters", "département code"))


def test_the_form_accepts_spaces(world):
    form = EstablishmentForm(_form_data(world, "75 000 003 6"), user=world.national_admin)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["finess"] == "750000036"


def test_the_service_refuses_and_saves_nothing(world):
    before = (Establishment.objects.count(), AuditEntry.objects.count())
    with pytest.raises(ValidationError):
        services.establishment_create(actor=world.national_admin, data={
            "finess": "750000035", "name": "Typo", "category": "ch", "region": world.region_a,
        })
    assert (Establishment.objects.count(), AuditEntry.objects.count()) == before


def test_the_service_refuses_a_duplicate_number(world):
    with pytest.raises(ValidationError) as caught:
        services.establishment_create(actor=world.national_admin, data={
            "finess": world.chu.finess, "name": "Double", "category": "ch", "region": world.region_a,
        })
    assert "finess" in caught.value.error_dict


@pytest.fixture
def api(world: Any) -> Any:
    return token_client(world.national_admin)


def test_the_api_refuses_a_bad_number_with_the_reason(world, api):
    before = Establishment.objects.count()
    response = api.post("/api/v1/directory/establishments", json.dumps({
        "finess": "750000035", "name": "Typo", "category": "ch", "region_id": world.region_a.pk,
    }), content_type="application/json")
    assert response.status_code == 422
    assert "should be 6, not 5" in " ".join(response.json()["errors"]["finess"])
    assert Establishment.objects.count() == before


def test_the_api_refuses_a_bad_number_on_update(world, api):
    response = api.patch(
        f"/api/v1/directory/establishments/{world.chu.pk}", json.dumps({"finess": "990000001"}),
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "“99” is not a département code" in " ".join(response.json()["errors"]["finess"])
    old = world.chu.finess
    world.chu.refresh_from_db()
    assert world.chu.finess == old


def test_the_api_accepts_spaces(world, api):
    response = api.post("/api/v1/directory/establishments", json.dumps({
        "finess": "75 000 003 6", "name": "Espaces", "category": "ch", "region_id": world.region_a.pk,
    }), content_type="application/json")
    assert response.status_code == 201
    assert response.json()["finess"] == "750000036"
