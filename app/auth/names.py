"""Display names: what a person may call themselves, and the badge staff carry.

- ``clean`` normalises a name (NFKC, so full-width and compatibility forms become plain;
  zero-width and other invisible format characters dropped, the emoji joiner kept;
  runs of spaces made one) and refuses control and bidirectional-override characters
  and names with nothing visible left (only spaces, format characters or marks).
- ``reserved_word`` finds a word that only staff may use in a name (``reserved_name_words``:
  理财经理, 管理员, 客服, 官方, admin, official …): Chinese words anywhere in the name once
  spaces and punctuation are gone ("管 理-员"), Latin words as whole words, also spelt
  out letter by letter ("A d m i n") or in camel case ("LiAdmin"), never inside another
  word ("badminton").
- ``badge_of`` is the verified badge clients show next to a person: ``"advisor"`` for
  advisors (理财经理), ``"staff"`` for moderators, admins and editors, else None. A badge
  comes from a role, which only ``quanzi users grant-role`` gives; a name cannot.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Literal

Badge = Literal["advisor", "staff"]
STAFF_ROLES = frozenset({"moderator", "admin", "editor"})

_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ZWJ = "\u200d"
_SPACES = re.compile(r"\s+")
_LATIN_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


class BadName(ValueError):
    """The name cannot be used; ``reason`` is ``"blank"`` or ``"control_characters"``."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def badge_of(roles: Iterable[str]) -> Badge | None:
    held = set(roles)
    if "advisor" in held:
        return "advisor"
    if held & STAFF_ROLES:
        return "staff"
    return None


def clean(name: str) -> str:
    """The name as stored. Raises BadName."""
    text = unicodedata.normalize("NFKC", name)
    if any(ch in _BIDI or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r") for ch in text):
        raise BadName("a name may not contain control or text-direction characters", "control_characters")
    text = "".join(ch for ch in text if ch == _ZWJ or unicodedata.category(ch) != "Cf")
    text = _SPACES.sub(" ", text).strip()
    if not any(unicodedata.category(ch) not in _INVISIBLE for ch in text):
        raise BadName("a name needs at least one visible character", "blank")
    return text


def _latin_tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for run in re.findall(r"[A-Za-z0-9]+", text):
        tokens.extend(t.casefold() for t in _LATIN_TOKEN.findall(run))
    return tokens


def reserved_word(name: str, words: Iterable[str]) -> str | None:
    """The first of ``words`` that ``name`` (already ``clean``) uses, or None."""
    folded = name.casefold()
    squeezed = "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")
    tokens = _latin_tokens(name)
    # letters written one by one ("A d m i n", "a.d.m.i.n"), joined back into words
    spelt = "".join(t for t in tokens if len(t) == 1)
    for word in words:
        w = "".join(ch for ch in word.casefold() if unicodedata.category(ch)[0] in "LN")
        if not w:
            continue
        if w.isascii():
            if w in tokens or (len(spelt) >= len(w) and w in spelt):
                return word
        elif w in squeezed:
            return word
    return None
