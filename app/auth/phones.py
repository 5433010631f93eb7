"""Phone numbers: E.164 normalisation, the keyed hash used for matching, masking."""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers

from app.errors import ValidationFailed


def normalise(raw: str, region: str = "CN") -> str | None:
    """E.164 form of ``raw`` ("138 0013 8000", "+86 138-0013-8000", "0086…"), or None."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def require_e164(raw: str, region: str = "CN") -> str:
    """E.164 form of ``raw``. Raises ValidationFailed."""
    e164 = normalise(raw, region)
    if e164 is None:
        raise ValidationFailed("not a valid phone number", field="phone")
    return e164


def phone_hash(e164: str, key: str) -> str:
    return hmac.new(key.encode(), e164.encode(), hashlib.sha256).hexdigest()


def mask(e164: str) -> str:
    """ "+8613800138000" → "+86 138****8000"."""
    number = phonenumbers.parse(e164)
    national = str(number.national_number)
    hidden = national[:3] + "*" * max(0, len(national) - 7) + national[-4:]
    return f"+{number.country_code} {hidden}"
