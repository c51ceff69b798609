"""FINESS numbers and phone numbers: normalise, then validate with a message that says why."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Corsica's FINESS numbers start with 2A or 2B. The check digit is computed as if they
# read "20", the département code Corsica had before it was split in 1976, so that the
# Luhn sum stays over digits only.
CORSICA_PREFIXES = {"2A": "20", "2B": "20"}


def finess_normalize(raw: str) -> str:
    """Strip every space (FINESS numbers are often written '75 000 003 5') and upper-case."""
    return "".join(str(raw).split()).upper()


def luhn_check_digit(digits: str) -> int:
    """The digit that makes `digits + check` pass the Luhn test."""
    total = 0
    # From the right, every other digit (starting with the one next to the check digit) doubles.
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def _departement_is_valid(prefix: str, third: str) -> bool:
    if prefix in CORSICA_PREFIXES:
        return True
    if not prefix.isdigit():
        return False
    number = int(prefix)
    if 1 <= number <= 95 and number != 20:
        return True
    if prefix == "97":
        # 971 Guadeloupe … 976 Mayotte; 975 Saint-Pierre-et-Miquelon.
        return third in "123456"
    return prefix == "98"


def finess_validate(raw: str) -> str:
    """Return the normalised FINESS number, or raise ValidationError saying what is wrong."""
    value = finess_normalize(raw)
    if len(value) != 9:
        raise ValidationError(
            _("A FINESS number has 9 characters; this one has %(count)d.") % {"count": len(value)},
            code="finess_length",
        )
    prefix, rest = value[:2], value[2:]
    if not rest.isdigit():
        raise ValidationError(
            _("After the département code, a FINESS number holds only digits."),
            code="finess_digits",
        )
    if not _departement_is_valid(prefix, value[2]):
        raise ValidationError(
            _("“%(prefix)s” is not a département code (01 to 95, 2A, 2B, 971 to 976, 98).")
            % {"prefix": value[:3] if prefix == "97" else prefix},
            code="finess_departement",
        )
    digits = CORSICA_PREFIXES.get(prefix, prefix) + rest
    expected = luhn_check_digit(digits[:8])
    if int(digits[8]) != expected:
        raise ValidationError(
            _("The check digit (last digit) should be %(expected)d, not %(given)s: the number has a typo.")
            % {"expected": expected, "given": digits[8]},
            code="finess_check_digit",
        )
    return value


def finess_with_check_digit(first_eight: str) -> str:
    """Complete eight characters into a valid FINESS number (used by demo and tests)."""
    first_eight = finess_normalize(first_eight)
    digits = CORSICA_PREFIXES.get(first_eight[:2], first_eight[:2]) + first_eight[2:]
    return first_eight + str(luhn_check_digit(digits))


# The French regulator (ARCEP) keeps 06 39 98 xx xx for fiction: no subscriber has one.
# libphonenumber calls them invalid; we accept them so that demo data and tests use
# numbers that can never reach a real person.
FICTION_MOBILE_PREFIX = "+3363998"


def _is_fiction_mobile(parsed: phonenumbers.PhoneNumber) -> bool:
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return e164.startswith(FICTION_MOBILE_PREFIX) and len(e164) == 12


# Overseas départements dial 0590…, 0596…, 0262… nationally, but have their own country
# codes (+590, +596, +262…): a number written the French way is tried against them too.
FRENCH_OVERSEAS_REGIONS = ("GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF")


def _overseas_reading(value: str) -> phonenumbers.PhoneNumber | None:
    for region in FRENCH_OVERSEAS_REGIONS:
        try:
            parsed = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            return None
        if phonenumbers.is_valid_number(parsed):
            return parsed
    return None


def phone_normalize(raw: str, *, default_region: str = "FR") -> str:
    """Return the number in E.164 (+33…), '' for an empty value, or raise ValidationError."""
    value = (raw or "").strip()
    if not value:
        return ""
    try:
        parsed = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            _("“%(value)s” is not a phone number.") % {"value": value}, code="phone_unparseable"
        ) from exc
    if (
        default_region == "FR"
        and not value.startswith(("+", "00"))
        and not phonenumbers.is_valid_number(parsed)
        and not _is_fiction_mobile(parsed)
    ):
        parsed = _overseas_reading(value) or parsed
    if not phonenumbers.is_valid_number(parsed) and not _is_fiction_mobile(parsed):
        raise ValidationError(
            _("“%(value)s” is not a valid phone number (check the number of digits and the country code).")
            % {"value": value},
            code="phone_invalid",
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_is_mobile(e164: str) -> bool:
    if not e164:
        return False
    parsed = phonenumbers.parse(e164)
    if _is_fiction_mobile(parsed):
        return True
    number_type = phonenumbers.number_type(parsed)
    return number_type in {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }


def phone_display(e164: str) -> str:
    """National format for French numbers (01 23 45 67 89), international otherwise."""
    if not e164:
        return ""
    parsed = phonenumbers.parse(e164)
    if parsed.country_code == 33:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


MATRIX_ID_RE = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:[0-9]{1,5})?$")


def matrix_id_validate(raw: str) -> str:
    """A Matrix user ID, `@user:server` (Tchap included), lower-case localpart as the
    specification requires; raises ValidationError with a translated message."""
    value = (raw or "").strip()
    if not value:
        return ""
    if len(value) > 255 or not MATRIX_ID_RE.match(value):
        raise ValidationError(_("A Matrix ID looks like @name:server (for Tchap: @first.last-hospital.fr:agent.tchap.gouv.fr)."))
    return value
