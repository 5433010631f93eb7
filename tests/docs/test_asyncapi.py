"""Issue 14 item 4: the WebSocket protocol as AsyncAPI — docs/asyncapi.yaml is generated
from the gateway's models, served at /asyncapi.yaml, and every frame the server sends in a
real session (ready, pong, ack, message of each kind, synced, read, notify, error)
validates against it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest
import websockets
import yaml

from app.realtime import asyncapi
from app.realtime.gateway import registry
from tests.console import browser as b

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_file_is_the_generated_one():
    committed = (ROOT / "docs" / "asyncapi.yaml").read_text()
    assert committed == asyncapi.render(), "regenerate: python -m app.realtime.asyncapi > docs/asyncapi.yaml"


def test_every_op_of_the_registry_is_described():
    doc = asyncapi.document()
    messages = doc["components"]["messages"]
    client = {m["name"] for k, m in messages.items() if k.startswith("client.")}
    server = {m["name"] for k, m in messages.items() if k.startswith("server.")}
    assert client == set(registry().ops) >= {"auth", "ping", "pong", "send", "sync", "read"}
    assert {"ready", "ack", "message", "synced", "read", "notify", "error", "ping", "pong"} <= server
    assert server == {asyncapi._op(m) for m in registry().server_frames}
    assert doc["asyncapi"].startswith("3.") and doc["channels"]["ws"]["address"] == "/v1/ws"


async def test_served_like_the_openapi_document(client):
    r = await client.get("/asyncapi.yaml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(r.text) == asyncapi.document()


def validator_by_op(doc: dict[str, Any]) -> dict[str, jsonschema.Draft202012Validator]:
    by_op = {}
    for key, message in doc["components"]["messages"].items():
        if key.startswith("server."):
            schema = {**message["payload"], "components": doc["components"]}
            by_op[message["name"]] = jsonschema.Draft202012Validator(schema)
    return by_op


@pytest.fixture
async def server(app) -> AsyncIterator[str]:
    async with b.serve(app) as base:
        yield base.replace("http://", "ws://")


async def test_frames_of_a_real_session_validate(server, client, users, rt):
    by_op = validator_by_op(yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text()))
    alice, bob = await users.make("alice", balance_fen=10_000), await users.make("bob", balance_fen=10_000)
    await users.friends(alice, bob)
    conv = (
        await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    ).json()
    cid = conv["id"]
    frames: list[dict[str, Any]] = []

    async with websockets.connect(f"{server}/v1/ws?token={alice.token}") as ws:

        async def until(done: Any) -> None:
            with anyio.fail_after(20):
                while not done():
                    frames.append(json.loads(await ws.recv()))

        def seen(op: str, **fields: Any) -> bool:
            return any(f["op"] == op and all(f.get(k) == v for k, v in fields.items()) for f in frames)

        await until(lambda: seen("ready"))
        await ws.send(json.dumps({"op": "ping"}))
        await ws.send(
            json.dumps(
                {"op": "send", "cid": "c1", "conversation_id": cid, "body": {"kind": "text", "text": "hi"}}
            )
        )
        await ws.send(json.dumps({"op": "nope", "cid": "c2"}))
        await until(lambda: seen("pong") and seen("ack") and seen("error"))
        money = {**bob.headers, "Idempotency-Key": "t-1"}
        r = await client.post(
            "/v1/transfers", json={"to_user_id": alice.id, "amount_fen": 100}, headers=money
        )
        assert r.status_code == 201, r.text
        r = await client.post(
            "/v1/red-packets",
            json={"conversation_id": cid, "total_fen": 200, "count": 1, "mode": "equal"},
            headers={**alice.headers, "Idempotency-Key": "rp-1"},
        )
        assert r.status_code == 201, r.text
        grab = await client.post(
            f"/v1/red-packets/{r.json()['id']}/grab", headers={**bob.headers, "Idempotency-Key": "g-1"}
        )
        assert grab.status_code == 200, grab.text
        await until(lambda: seen("notify") and seen("message", seq=4))
        await ws.send(json.dumps({"op": "sync", "conversation_id": cid, "after_seq": 0}))
        await ws.send(json.dumps({"op": "read", "conversation_id": cid, "seq": 4}))
        await ws.send(json.dumps({"op": "presence", "conversation_id": cid}))
        await until(lambda: seen("synced") and seen("read") and seen("presence"))

    kinds = {f["message"]["kind"] for f in frames if f["op"] == "message"}
    assert {"text", "transfer", "red_packet", "system"} <= kinds, kinds
    assert {f["op"] for f in frames} >= {
        "ready",
        "pong",
        "ack",
        "error",
        "message",
        "notify",
        "synced",
        "read",
    }
    for frame in frames:
        assert frame["op"] in by_op, frame
        errors = [e.message for e in by_op[frame["op"]].iter_errors(frame)]
        assert not errors, (frame, errors)
    # And the description is strict enough to refuse a wrong frame.
    bad = {"op": "message", "conversation_id": cid, "seq": 1, "message": {"kind": "system", "body": {}}}
    assert list(by_op["message"].iter_errors(bad))
