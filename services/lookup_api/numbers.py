"""Number intelligence from libphonenumber's metadata (the ``phonenumbers`` package).

A number is parsed with a default region for national formats (``020 7946 0018`` with ``GB``);
an international one (``+44…`` or ``00 44…`` with a region whose international prefix is
``00``) needs none. The answer says whether the number is *valid* (matches a number range of
its region) and *possible* (right length), its E.164 form, country calling code, region, type
(fixed line, mobile, toll free, premium rate …), the operator it was allocated to (the
*original* carrier: numbers may have been ported since; the LRN lookup says where they are
now), the area it belongs to and its time zones.

Parsing a number costs tens of microseconds; answers are kept in an LRU cache keyed by the
input and the default region, so a hot number costs a dictionary lookup.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers import (
    NumberParseException,
    PhoneNumberFormat,
    PhoneNumberType,
    carrier,
    geocoder,
    timezone,
)

from libs.errors import BadRequest

__all__ = ["MAX_INPUT", "InvalidNumberError", "digits_of", "number_info", "to_e164_digits"]

#: The longest input accepted (libphonenumber's own limit is 250 characters).
MAX_INPUT = 64

_TYPES = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}
_REGION = re.compile(r"^[A-Z]{2}$")
_DIALLED = re.compile(r"^\+?[0-9]{1,32}$")
_SEPARATORS = str.maketrans("", "", " -.()/")


class InvalidNumberError(BadRequest):
    """The input is not a phone number at all (400): too long, no digits, unknown country."""


def _check(raw: str, region: str | None) -> None:
    if len(raw) > MAX_INPUT:
        raise InvalidNumberError(f"a number has at most {MAX_INPUT} characters")
    if region is not None and not _REGION.match(region):
        raise InvalidNumberError(f"country {region!r} is not an ISO 3166-1 alpha-2 code (GB, US)")


@lru_cache(maxsize=100_000)
def number_info(raw: str, region: str | None) -> dict[str, Any]:
    """What libphonenumber knows about ``raw`` (``region``: the default for national formats).

    Raises :class:`InvalidNumberError` when ``raw`` cannot be read as a number. The returned
    dict is shared by the cache: do not mutate it.
    """
    _check(raw, region)
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException as exc:
        raise InvalidNumberError(f"{raw!r} is not a phone number: {exc._msg}") from None
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    valid = phonenumbers.is_valid_number(number)
    number_region = phonenumbers.region_code_for_number(number)
    return {
        "input": raw,
        "e164": e164,
        "valid": valid,
        "possible": phonenumbers.is_possible_number(number),
        "country_code": number.country_code,
        "region": number_region if number_region and number_region != "ZZ" else None,
        "national_number": str(number.national_number),
        "national_format": phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL),
        "international_format": phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
        "type": _TYPES.get(phonenumbers.number_type(number), "unknown") if valid else "unknown",
        "original_carrier": (carrier.name_for_valid_number(number, "en") or None)
        if valid
        else None,
        "location": (geocoder.description_for_valid_number(number, "en") or None)
        if valid
        else None,
        "time_zones": [
            zone
            for zone in timezone.time_zones_for_number(number)
            if zone != timezone.UNKNOWN_TIMEZONE
        ],
    }


def to_e164_digits(raw: str, region: str | None) -> str:
    """The E.164 digits (no ``+``) of ``raw``: how datasets key a number."""
    return number_info(raw, region)["e164"][1:]  # type: ignore[no-any-return]


def digits_of(raw: str) -> str:
    """A dialled number as sip_core routes it: digits, a leading ``+`` and separators dropped.

    Raises :class:`InvalidNumberError` if anything else is left.
    """
    text = raw.translate(_SEPARATORS)
    if not _DIALLED.match(text):
        raise InvalidNumberError(
            f"{raw[:MAX_INPUT]!r} is not a dialled number: digits, optionally after '+'"
        )
    return text.lstrip("+")
