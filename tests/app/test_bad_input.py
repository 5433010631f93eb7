"""Bad input is a 4xx with a documented code, never a 500 (issue 12 items 4–8): NUL in any
text, malformed cursors and out-of-range numbers, an unreachable database, unreadable or
oversized JSON bodies, and the OpenAPI document agreeing with what is served."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jsonschema
import pytest
import pytest_asyncio
import websockets

from tests.support.servers import running_servers
from tests.support.tcpproxy import TcpProxy
from tests.support.ws import ws_connect

NUL = "\u0000"


def assert_invalid(r: httpx.Response, status: int = 422, code: str = "validation_error") -> None:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.json()["error"]["code"] == code, r.text


def cursor_of(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# -- item 4: NUL ------------------------------------------------------------------------------


async def test_nul_in_any_text_input_is_a_validation_error(client, users):
    alice, bob = await users.make("alice", balance_fen=10_000), await users.make("bob")
    await users.friends(alice, bob)
    conv = (
        await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    ).json()
    post = await client.post("/v1/posts", json={"kind": "post", "text": "hello"}, headers=alice.headers)
    post_id = post.json()["id"]
    money = {**alice.headers, "Idempotency-Key": "k-nul"}
    cases: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]] = [
        ("PATCH", "/v1/me", {"display_name": f"al{NUL}ice"}, alice.headers),
        ("POST", "/v1/transfers", {"to_user_id": bob.id, "amount_fen": 100, "note": f"x{NUL}"}, money),
        (
            "POST",
            "/v1/red-packets",
            {"conversation_id": conv["id"], "total_fen": 100, "count": 1, "mode": "equal", "greeting": NUL},
            money,
        ),
        ("POST", "/v1/conversations", {"member_ids": [bob.id], "title": f"t{NUL}"}, alice.headers),
        ("POST", "/v1/friends/requests", {"user_id": bob.id, "message": f"hi{NUL}"}, alice.headers),
        ("POST", "/v1/posts", {"kind": "question", "title": NUL, "text": "why?"}, alice.headers),
        ("POST", "/v1/posts", {"kind": "post", "text": f"a{NUL}b"}, alice.headers),
        ("POST", f"/v1/posts/{post_id}/comments", {"text": NUL}, bob.headers),
        ("POST", f"/v1/posts/{post_id}/report", {"reason": NUL}, bob.headers),
        ("POST", "/v1/referrals/redeem", {"code": f"AB{NUL}"}, bob.headers),
        ("POST", "/v1/notifications/read", {"ids": [NUL]}, alice.headers),
        ("GET", "/v1/transfers/t%00x", None, alice.headers),
        ("GET", "/v1/posts/%00", None, alice.headers),
        ("POST", f"/v1/posts/{post_id}%00/like", None, alice.headers),
        ("GET", "/v1/notifications?cursor=%00", None, alice.headers),
        ("GET", "/v1/wallet/statement?cursor=" + cursor_of(f"a{NUL}"), None, alice.headers),
    ]
    for method, path, body, headers in cases:
        r = await client.request(method, path, json=body, headers=headers)
        assert_invalid(r)
    # A raw NUL byte in the body is refused the same way
    r = await client.patch("/v1/me", content=b'{"display_name": "a\x00"}', headers=alice.headers)
    assert_invalid(r)
    # The text "\u0000" (a backslash, then u0000) is ordinary text
    r = await client.patch("/v1/me", json={"display_name": "a\\u0000"}, headers=alice.headers)
    assert r.status_code == 200 and r.json()["display_name"] == "a\\u0000"
    me = (await client.get("/v1/me", headers=alice.headers)).json()
    assert me["display_name"] == "a\\u0000"
    assert (await client.get("/v1/wallet", headers=alice.headers)).json()["balance_fen"] == 10_000


# -- item 5: cursors and sequence numbers -----------------------------------------------------

SHAPES: list[Any] = [
    "x",
    1.5,
    True,
    None,
    [],
    {},
    [1, 2],
    {"a": 1},
    2**70,
    -(2**70),
    "2026-01-01",
    ["2026-01-01", 1],
    ["2026-01-01T00:00:00", "c_1"],  # naive time
    ["0001-01-01T00:00:00+08:00", "c_1"],
    ["2026-01-01T00:00:00+00:00", NUL],
    {"after_seq": 2**31},
    {"after_seq": "1"},
    {"i": 1, "s": "x", "t": 5},
    {"o": -1},
]


async def test_a_cursor_of_another_shape_is_a_validation_error(client, users):
    alice = await users.make("alice", roles="user,moderator,advisor")
    bob = await users.make("bob")
    await users.friends(alice, bob)
    conv = (
        await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    ).json()
    paths = [
        "/v1/wallet/statement",
        "/v1/conversations",
        "/v1/moderation/queue",
        f"/v1/conversations/{conv['id']}/messages",
        "/v1/notifications",
        "/v1/feed?tab=hot",
        "/v1/feed?tab=latest",
        "/v1/friends/requests",
    ]
    for path in paths:
        joiner = "&" if "?" in path else "?"
        for shape in SHAPES:
            r = await client.get(f"{path}{joiner}cursor={cursor_of(shape)}", headers=alice.headers)
            assert r.status_code in (422, 200), (path, shape, r.status_code, r.text)
            if r.status_code == 422:
                assert r.json()["error"]["code"] == "validation_error"
        r = await client.get(f"{path}{joiner}cursor=!!notbase64", headers=alice.headers)
        assert_invalid(r)
    # the shapes the issue names, on the routes it names
    r = await client.get("/v1/wallet/statement?cursor=" + cursor_of("x"), headers=alice.headers)
    assert_invalid(r)
    for path in ("/v1/conversations", "/v1/moderation/queue"):
        assert_invalid(
            await client.get(f"{path}?cursor={cursor_of(['2026-01-01', 1])}", headers=alice.headers)
        )


async def test_sequence_numbers_beyond_an_integer_are_a_validation_error(client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    conv = (
        await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    ).json()
    base = f"/v1/conversations/{conv['id']}"
    for query in (f"after_seq={2**31}", f"before_seq={2**31}", f"after_seq={2**63}"):
        assert_invalid(await client.get(f"{base}/messages?{query}", headers=alice.headers))
    assert (
        await client.get(f"{base}/messages?after_seq={2**31 - 1}", headers=alice.headers)
    ).status_code == 200
    assert_invalid(await client.post(f"{base}/read", json={"seq": 2**31}, headers=alice.headers))
    assert_invalid(await client.post("/v1/me/steps", json={"steps": 2**40}, headers=alice.headers))


# -- item 7: unreadable and oversized JSON ------------------------------------------------------


async def test_unreadable_json_is_a_validation_error_in_the_envelope(client, users):
    alice = await users.make("alice")
    headers = {**alice.headers, "Content-Type": "application/json"}
    for body in (b'{"display_name": "\xff\xfe"}', b"[" * 1000 + b"]" * 1000, b"{not json"):
        r = await client.patch("/v1/me", content=body, headers=headers)
        assert_invalid(r)
        assert set(r.json()["error"]) == {"code", "message", "details"}


async def test_a_json_body_above_the_cap_is_413_without_reading_it_whole(client, users, rt):
    alice = await users.make("alice")
    cap = rt.settings.json_body_max_bytes
    assert cap == 1024 * 1024
    big = b'{"display_name": "' + b"a" * (10 * 1024 * 1024) + b'"}'
    r = await client.patch(
        "/v1/me", content=big, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert_invalid(r, 413, "payload_too_large")
    assert r.json()["error"]["details"]["max_bytes"] == cap

    # No Content-Length: the body streams in, and reading stops at the cap
    chunks_read = 0

    async def stream() -> AsyncIterator[bytes]:
        nonlocal chunks_read
        for _ in range(100):
            chunks_read += 1
            yield b" " * (64 * 1024)

    r = await client.patch(
        "/v1/me", content=stream(), headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert_invalid(r, 413, "payload_too_large")
    assert chunks_read <= cap // (64 * 1024) + 2
    # just under the cap is read as usual
    ok = json.dumps({"display_name": "Alice"}).encode() + b" " * (cap - 100)
    r = await client.patch(
        "/v1/me", content=ok, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 200, r.text


# -- item 8: the OpenAPI document matches what is served --------------------------------------


async def test_request_booleans_are_strict(client, users):
    alice = await users.make("alice")
    for value in (0, 1, "true", "false", "yes"):
        assert_invalid(await client.patch("/v1/me", json={"discoverable": value}, headers=alice.headers))
        assert_invalid(
            await client.post("/v1/notifications/read", json={"all": value}, headers=alice.headers)
        )
    r = await client.patch("/v1/me", json={"discoverable": False}, headers=alice.headers)
    assert r.status_code == 200 and r.json()["discoverable"] is False


def response_schema(
    doc: dict[str, Any], path: str, method: str = "get", status: str = "200"
) -> dict[str, Any]:
    schema = doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    return {**schema, "components": doc["components"]}


async def test_responses_validate_against_the_published_openapi(client, users):
    alice, bob, carol = [await users.make(n) for n in ("alice", "bob", "carol")]
    await users.friends(alice, bob)
    await users.friends(bob, carol)
    doc = (await client.get("/openapi.json")).json()
    samples = {
        "/v1/friends/suggestions": alice,
        "/v1/me": alice,
        "/v1/wallet": alice,
        "/v1/wallet/statement": alice,
        "/v1/conversations": alice,
        "/v1/notifications": alice,
        "/v1/friends": alice,
        "/v1/friends/requests": alice,
        "/v1/feed": alice,
    }
    for path, who in samples.items():
        r = await client.get(path, headers=who.headers)
        assert r.status_code == 200, (path, r.text)
        jsonschema.validate(r.json(), response_schema(doc, path))
    # errors are described as served: the envelope, on 422, 413 and 503
    r = await client.patch("/v1/me", json={"discoverable": 0}, headers=alice.headers)
    jsonschema.validate(r.json(), response_schema(doc, "/v1/me", "patch", "422"))
    big = b"[" + b" " * (2 * 1024 * 1024) + b"]"
    r = await client.patch(
        "/v1/me", content=big, headers={**alice.headers, "Content-Type": "application/json"}
    )
    jsonschema.validate(r.json(), response_schema(doc, "/v1/me", "patch", "413"))
    assert "503" in doc["paths"]["/v1/me"]["get"]["responses"]
    suggested = (await client.get("/v1/friends/suggestions", headers=alice.headers)).json()["items"]
    assert suggested and all("avatar_url" in s for s in suggested)
    assert suggested[0]["reasons"] == [{"kind": "mutual_friends", "count": 1}]


# -- WebSocket (NUL, seq) and item 6 (the database goes away), on a real server --------------


@pytest.fixture(scope="module")
def db_proxy(base_settings) -> Iterator[TcpProxy]:
    with TcpProxy.to_database(base_settings.database_url) as proxy:
        yield proxy


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(base_settings, db_proxy):
    settings = base_settings.model_copy(
        update={"database_url": db_proxy.database_url(base_settings.database_url), "db_pool_timeout_s": 3.0}
    )
    async with running_servers(settings) as [srv]:
        yield srv


async def test_websocket_frames_with_nul_or_huge_seq_get_an_error_frame(server, client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    conv = (
        await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    ).json()
    send = {
        "op": "send",
        "cid": "c1",
        "conversation_id": conv["id"],
        "body": {"kind": "text", "text": f"a{NUL}"},
    }
    async with ws_connect(server, alice) as ws:
        await ws.send(send)
        err = await ws.expect("error", cid="c1")
        assert err["code"] == "validation_error"
        await ws.send({"op": "sync", "cid": "s1", "conversation_id": conv["id"], "after_seq": 2**31})
        assert (await ws.expect("error", cid="s1"))["code"] == "validation_error"
        await ws.send({**send, "cid": "c2", "body": {"kind": "text", "text": "fine"}})
        await ws.expect("ack", cid="c2")
    r = await client.get(f"/v1/conversations/{conv['id']}/messages", headers=alice.headers)
    assert [m["body"]["text"] for m in r.json()["items"]] == ["fine"]


async def test_an_unreachable_database_is_503_and_a_close_frame(server, db_proxy, users):
    alice, bob = await users.make("alice", balance_fen=10_000), await users.make("bob")
    await users.friends(alice, bob)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        assert (await http.get("/v1/me", headers=alice.headers)).status_code == 200
        async with ws_connect(server, alice) as ws:
            db_proxy.cut()
            try:
                for _ in range(2):  # pooled connections reset, then new ones refused
                    r = await http.get("/v1/me", headers=alice.headers)
                    assert_invalid(r, 503, "unavailable")
                    assert r.headers["retry-after"]
                money = {**alice.headers, "Idempotency-Key": "k-outage"}
                r = await http.post(
                    "/v1/transfers", json={"to_user_id": bob.id, "amount_fen": 100}, headers=money
                )
                assert_invalid(r, 503, "unavailable")
                assert (await http.get("/readyz")).status_code == 503
                await ws.send({"op": "sync", "cid": "s1", "conversation_id": "c_nope", "after_seq": 0})
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    for _ in range(5):
                        await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code in (1011, 1013)
            finally:
                db_proxy.restore()
        assert (await http.get("/v1/me", headers=alice.headers)).status_code == 200
