"""Issue 14 item 1: /docs has an Authorize button — every protected operation declares
its credential in the OpenAPI document (``securitySchemes`` + per-operation ``security``)."""

from __future__ import annotations

import re

from app.config import Settings


def fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "doesnotexist", path)


async def test_security_schemes_are_declared(app):
    doc = app.openapi()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["BearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["BearerAuth"]["description"],
    }
    assert schemes["ServiceToken"]["type"] == "http" and schemes["ServiceToken"]["scheme"] == "bearer"


async def test_an_operation_declares_security_exactly_when_it_answers_401_without_a_token(app, client):
    doc = app.openapi()
    protected = public = 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            r = await client.request(method.upper(), fill(path))
            declared = {name for req in op.get("security", []) for name in req}
            if r.status_code == 401:
                assert declared, (method, path, "answers 401 but shows no lock")
                protected += 1
            else:
                assert not declared, (method, path, r.status_code, "public but shows a lock")
                public += 1
    assert protected > 50 and public >= 3


async def test_service_routes_use_the_service_token_scheme(app, client, settings: Settings):
    op = app.openapi()["paths"]["/v1/events/spending"]["post"]
    assert op["security"] == [{"ServiceToken": []}]
    assert app.openapi()["paths"]["/v1/me"]["get"]["security"] == [{"BearerAuth": []}]
    # Behaviour unchanged: a user's token or none is a 401 in the envelope; the service token passes auth.
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        r = await client.post("/v1/events/spending", json={"events": []}, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    r = await client.post(
        "/v1/events/spending",
        json={"events": []},
        headers={"Authorization": f"Bearer {settings.service_token}"},
    )
    assert r.status_code != 401
