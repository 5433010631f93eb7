"""The published OpenAPI document agrees with the binding contract, shared/API.md.

Every ``| METHOD | `path` |`` row of API.md's tables (``·``-separated alternatives and
``/a` · `/b`` suffix forms included) must be a route of the app with that method.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.backends import CI

ROOT = Path(__file__).resolve().parents[1]
API_MD = ROOT.parent / "shared" / "API.md"
ROW = re.compile(r"^\|\s*([A-Z ·]+?)\s*\|\s*(`[^|]+`[^|]*)\|", re.M)
INLINE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^ `?]+)")


def contract_routes(text: str) -> set[tuple[str, str]]:
    routes = set()
    for methods, paths in ROW.findall(text):
        names = [m.strip() for m in methods.split("·") if m.strip() and m.strip() != "WS"]
        # "`/v1/posts/{id}` · DELETE": a method named after the path applies to it too.
        names += re.findall(r"·\s*(GET|POST|PUT|PATCH|DELETE)\b", paths)
        found = re.findall(r"`([^`]+)`", paths)
        first = found[0]
        full = [first] + [p if p.startswith("/v1") else first.rsplit("/", 1)[0] + p for p in found[1:]]
        for path in full:
            for method in names:
                routes.add((method, path))
    routes.update(INLINE.findall(text))
    return routes


def normalise(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


async def test_every_contract_route_is_served(app):
    if not API_MD.exists():
        # The contract lives beside the repository, not in it. CI always lays it beside
        # the clone, so there its absence is a failure; a clone elsewhere cannot check it.
        if CI:
            pytest.fail(f"CI=true but the contract {API_MD} is missing")
        pytest.skip("shared/API.md is not beside the repository")
    served = {(m.upper(), normalise(p)) for p, ops in app.openapi()["paths"].items() for m in ops}
    wanted = {(m, normalise(p)) for m, p in contract_routes(API_MD.read_text())}
    missing = sorted(wanted - served)
    assert not missing, f"routes in API.md but not served: {missing}"
