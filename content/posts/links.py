"""Product-card links: parsed the way browsers parse them (WHATWG URL, ``ada-url``).

A link is accepted only when what a browser would open is the bank: ``https`` to one of
``product_link_hosts`` (or a subdomain), or a deep link into the app through one of
``product_link_schemes``. Control characters, whitespace and backslashes are refused
outright: browsers strip tabs and newlines and read ``\\`` as ``/``, which is how
``/\\evil.example`` or ``https://evil.example\\@bank.example/`` leave the bank. Relative
links are refused too: what they resolve to depends on the client.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import ada_url


def _unsafe_char(link: str) -> bool:
    return any(
        ch == "\\" or ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in link
    )


def link_problem(link: str, *, hosts: Iterable[str], schemes: Iterable[str]) -> str | None:
    """Why ``link`` may not be a product link, or None when it may."""
    if _unsafe_char(link):
        return "control characters, spaces and backslashes are not allowed"
    try:
        url = ada_url.URL(link)  # absolute only: no base
    except ValueError:
        return "not an absolute URL"
    scheme = url.protocol.removesuffix(":").lower()
    if url.username or url.password:
        return "a link may not carry a user name or password"
    if scheme in {s.lower() for s in schemes}:
        return None
    if scheme != "https":
        return "a product link must be https to the bank or an app deep link"
    host = url.hostname.lower().rstrip(".")
    if not any(host == h or host.endswith("." + h) for h in (h.lower() for h in hosts)):
        return "a product link must point to the bank"
    if url.port:
        return "a product link may not name a port"
    return None
