"""The route index: routers a path cannot reach are skipped, and every route still answers
as before (the route sweep and the contract test call every one)."""

from __future__ import annotations

from starlette.routing import Match

from app.main import create_app


def _first_full(app, method: str, path: str):
    scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": [], "app": app}
    for i, route in enumerate(app.router.routes):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return i
    return None


def test_every_feature_router_is_guarded_and_the_same_route_matches(settings):
    guarded = create_app(settings)
    included = [r for r in guarded.router.routes if hasattr(r, "original_router")]
    assert len(included) > 10
    assert all("matches" in vars(r) for r in included), "a router went unguarded (FastAPI's entries changed?)"
    plain = create_app(settings)
    for r in plain.router.routes:
        vars(r).pop("matches", None)  # FastAPI's own matching
    for method, path in [
        ("GET", "/v1/me"),
        ("GET", "/v1/feed"),
        ("POST", "/v1/payments/quote"),
        ("POST", "/v1/red-packets/rp_x/grab"),
        ("GET", "/v1/conversations/c_x/messages"),
        ("GET", "/v1/nowhere"),
        ("GET", "/console/"),
    ]:
        assert _first_full(guarded, method, path) == _first_full(plain, method, path), path
