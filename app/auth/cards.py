"""Card tokens: how the bank vouches, through its app SDK, that a card belongs to a user.

A token is ``base64url(json{card_ref, user_id, exp}) + "." + base64url(HMAC-SHA256(key,
first part))``, unpadded base64url, ``exp`` in Unix seconds, ``key`` the shared
``QUANZI_CARD_TOKEN_KEY`` (``shared/API.md``, Cards and funding). ``verify`` is what
``POST /v1/me/cards`` believes; ``sign`` is the bank's side, here for the demo seed and
the tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime

from app.errors import InvalidCardToken

MAX_TOKEN_CHARS = 1024
# The bank's references (of cards, of top-ups): 1–64 of these characters.
REF_PATTERN = r"^[A-Za-z0-9._:\-]{1,64}$"
_REF = re.compile(REF_PATTERN)
# The bank's card products ("unionpay_platinum"): 1–32 of a-z 0-9 _.
CARD_PRODUCT_PATTERN = r"^[a-z0-9_]{1,32}$"


@dataclass(frozen=True, slots=True)
class CardClaim:
    """What a valid token says: this card belongs to this user until ``exp``."""

    card_ref: str
    user_id: str
    exp: int


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not text or "=" in text:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, payload: str) -> bytes:
    return hmac.new(key.encode(), payload.encode("ascii"), hashlib.sha256).digest()


def sign(*, key: str, card_ref: str, user_id: str, exp: int) -> str:
    """The bank's card token for ``card_ref`` held by ``user_id``, valid until ``exp``."""
    payload = _b64encode(json.dumps({"card_ref": card_ref, "user_id": user_id, "exp": exp}).encode())
    return f"{payload}.{_b64encode(_mac(key, payload))}"


def verify(token: str, *, key: str, user_id: str, now: datetime) -> CardClaim:
    """The claim of a token the bank signed for ``user_id`` that has not expired at ``now``
    (business time). Raises InvalidCardToken (malformed, bad signature, another user's,
    expired); the message does not say which, beyond what the caller already knows."""
    payload, sep, signature = token.partition(".")
    try:
        if not sep or len(token) > MAX_TOKEN_CHARS or not payload.isascii():
            raise ValueError("not two parts")
        given = _b64decode(signature)
        if not hmac.compare_digest(given, _mac(key, payload)):
            raise InvalidCardToken("the card token is not signed by the bank")
        claim = json.loads(_b64decode(payload))
        card_ref, owner, exp = claim["card_ref"], claim["user_id"], claim["exp"]
        if not (isinstance(card_ref, str) and isinstance(owner, str)):
            raise ValueError("card_ref and user_id are strings")
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise ValueError("exp is an integer")
        if not _REF.fullmatch(card_ref):
            raise ValueError("card_ref is 1–64 of A-Z a-z 0-9 . _ : -")
    except InvalidCardToken:
        raise
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise InvalidCardToken("the card token is malformed") from None
    if owner != user_id:
        raise InvalidCardToken("the card token was issued to another user")
    if exp <= now.timestamp():
        raise InvalidCardToken("the card token has expired", exp=exp)
    return CardClaim(card_ref=card_ref, user_id=owner, exp=exp)
