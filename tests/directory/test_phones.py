"""Phone numbers: any usual French writing, or an international one with +, is stored in
E.164; what cannot be a number is refused with a message; French numbers display the
French way."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from planblanc.directory import services
from planblanc.directory.forms import DepartmentForm, PersonForm
from planblanc.directory.models import Person
from planblanc.directory.validators import phone_display, phone_is_mobile, phone_normalize
from tests.support.api import token_client


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("01 23 45 67 89", "+33123456789"),
        ("0123456789", "+33123456789"),
        ("01.23.45.67.89", "+33123456789"),
        ("01-23-45-67-89", "+33123456789"),
        ("+33 1 23 45 67 89", "+33123456789"),
        ("+33 (0)1 23 45 67 89", "+33123456789"),
        ("0033 1 23 45 67 89", "+33123456789"),
        ("06 12 34 56 78", "+33612345678"),
        ("07 81 23 45 67", "+33781234567"),
        ("  04 72 11 22 33  ", "+33472112233"),
        # The range ARCEP keeps for fiction (used by the demo and the factories).
        ("06 39 98 12 34", "+33639981234"),
    ],
)
def test_it_normalises_french_writings_to_e164(written, e164):
    assert phone_normalize(written) == e164


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        # Overseas départements: dialled 0590…, 0262… in France, with their own country code.
        ("0590 12 34 56", "+590590123456"),
        ("0262 12 34 56", "+262262123456"),
        ("0692 12 34 56", "+262692123456"),
        ("0594 12 34 56", "+594594123456"),
    ],
)
def test_it_reads_overseas_numbers_written_the_french_way(written, e164):
    assert phone_normalize(written) == e164


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 202 555 0123", "+12025550123"),
        ("+49 30 901820", "+4930901820"),
        ("+32 2 555 12 34", "+3225551234"),
        ("+262 262 12 34 56", "+262262123456"),
    ],
)
def test_it_accepts_foreign_numbers_with_a_plus(written, e164):
    assert phone_normalize(written) == e164


def test_it_keeps_empty_empty():
    assert phone_normalize("") == ""
    assert phone_normalize("   ") == ""


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("abc", "phone_unparseable"),
        ("téléphone", "phone_unparseable"),
        ("12", "phone_invalid"),
        ("06 12 34", "phone_invalid"),
        ("01 23 45 67 89 10", "phone_invalid"),
        ("+33 6 12", "phone_invalid"),
        ("+999 123 456", "phone_unparseable"),
    ],
)
def test_it_refuses_what_is_not_a_number_and_quotes_it(written, code):
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        phone_normalize(written)
    assert caught.value.code == code
    assert f"“{written.strip()}”" in caught.value.messages[0]
    assert "phone number" in caught.value.messages[0]


def test_it_explains_what_to_check_for_a_wrong_length():
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        phone_normalize("06 12 34")
    assert "number of digits" in caught.value.messages[0]


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        ("+33123456789", "01 23 45 67 89"),
        ("+33612345678", "06 12 34 56 78"),
        ("+33639981234", "06 39 98 12 34"),
        ("+442079460958", "+44 20 7946 0958"),
        ("+12025550123", "+1 202-555-0123"),
        ("", ""),
    ],
)
def test_it_displays_french_numbers_nationally_and_others_internationally(e164, shown):
    assert phone_display(e164) == shown


def test_it_tells_mobiles_from_landlines():
    assert phone_is_mobile("+33612345678")
    assert phone_is_mobile("+33639981234")  # fiction range
    assert not phone_is_mobile("+33123456789")
    assert not phone_is_mobile("")


def test_the_display_filter_is_used_on_the_person_page(client_for, world):
    Person.objects.filter(pk=world.chu_person.pk).update(landline_phone="+33123456789")
    body = client_for("crisis_member").get(f"/annuaire/personnes/{world.chu_person.pk}/").content.decode()
    assert "01 23 45 67 89" in body
    assert 'href="tel:+33123456789"' in body


# Model, forms, services and API ------------------------------------------------------------


def test_the_forms_normalise_and_refuse(world):
    form = DepartmentForm({"kind": "emergency", "name": "Urgences", "phone": "04 72 11 22 33"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone"] == "+33472112233"
    with translation.override("en"):
        form = PersonForm({"last_name": "X", "first_name": "Y", "mobile_phone": "06 12", "preferred_language": "fr"})
        assert not form.is_valid()
        assert "not a valid phone number" in " ".join(form.errors["mobile_phone"])


def test_the_service_stores_e164(world):
    person = services.person_update(
        actor=world.establishment_admin, person=world.chu_person, data={"mobile_phone": "06 39 98 00 01"}
    )
    person.refresh_from_db()
    assert person.mobile_phone == "+33639980001"


def test_the_service_refuses_and_saves_nothing(world):
    before = Person.objects.get(pk=world.chu_person.pk).mobile_phone
    with pytest.raises(ValidationError) as caught:
        services.person_update(
            actor=world.establishment_admin, person=world.chu_person, data={"mobile_phone": "pas un numéro"}
        )
    assert "mobile_phone" in caught.value.error_dict
    assert Person.objects.get(pk=world.chu_person.pk).mobile_phone == before


def test_the_api_normalises_and_refuses(world):
    client = token_client(world.establishment_admin)
    url = f"/api/v1/directory/people/{world.chu_person.pk}"
    response = client.patch(url, json.dumps({"landline_phone": "04.72.11.22.33"}), content_type="application/json")
    assert response.status_code == 200
    assert response.json()["landline_phone"] == "+33472112233"
    response = client.patch(url, json.dumps({"landline_phone": "12"}), content_type="application/json")
    assert response.status_code == 422
    assert "“12” is not a valid phone number" in " ".join(response.json()["errors"]["landline_phone"])
    assert Person.objects.get(pk=world.chu_person.pk).landline_phone == "+33472112233"
