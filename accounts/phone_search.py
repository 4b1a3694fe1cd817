"""A phone number typed in the search bar, in any common form, as the search looks it up.

- A whole number: "+1 202-555-0143", "(202) 555 0143", "202.555.0143", "2025550143" (seven to
  fifteen digits, with spaces, dashes, dots and brackets; without a country code it is read in
  PHONENUMBER_DEFAULT_REGION): the customers whose stored number (E.164) is exactly it.
- The last digits, after a `#` (or `…`, `...`): "#0143", "#555 0143": four to fifteen digits, the
  customers whose number ends with them. Without the marker, digits are searched in names and
  emails as before ("1234" finds jose.rivera1234@…).
"""

import re
from dataclasses import dataclass

import phonenumbers
from django.conf import settings

LAST_DIGITS_MIN = 4
_WHOLE = re.compile(r"^\+?[\d\s().\-]+$")
_LAST = re.compile(r"^(?:#|…|\.\.\.)\s*([\d\s\-]+)$")


@dataclass(frozen=True)
class PhoneQuery:
    e164: str = ""  # a whole number
    last_digits: str = ""  # or the end of one


def phone_query(query: str) -> PhoneQuery | None:
    """The phone number (or its last digits) `query` is, or None when it is not one."""
    text = query.strip()
    if match := _LAST.match(text):
        digits = re.sub(r"\D", "", match.group(1))
        if LAST_DIGITS_MIN <= len(digits) <= 15:
            return PhoneQuery(last_digits=digits)
        return None
    if not _WHOLE.match(text):
        return None
    digits = re.sub(r"\D", "", text)
    if not 7 <= len(digits) <= 15:
        return None
    try:
        number = phonenumbers.parse(text, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    # A whole number only: a local one (seven digits in the US) is not what is stored.
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    return PhoneQuery(e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
