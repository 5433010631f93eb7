"""The /v1/ws protocol against a real server with real WebSocket clients: auth, send/ack,
delivery to every device, duplicate cids, resume by sync, read markers, bad frames,
outsiders."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest
import pytest_asyncio
import websockets

from tests.support.servers import running_servers
from tests.support.ws import ws_connect, ws_url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(base_settings):
    async with running_servers(base_settings) as [srv]:
        yield srv


async def pair(client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    r = await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    return alice, bob, r.json()["id"]


def text(cid: str, conversation_id: str, body: str) -> dict:
    return {
        "op": "send",
        "cid": cid,
        "conversation_id": conversation_id,
        "body": {"kind": "text", "text": body},
    }


async def test_send_is_acked_and_reaches_every_device_of_every_member(server, client, users):
    alice, bob, conv = await pair(client, users)
    async with ws_connect(server, alice) as a, ws_connect(server, bob) as b1, ws_connect(server, bob) as b2:
        await a.send(text("c1", conv, "你好"))
        ack = await a.expect("ack")
        assert ack == {
            "op": "ack",
            "cid": "c1",
            "conversation_id": conv,
            "seq": 1,
            "message_id": ack["message_id"],
        }
        for device in (b1, b2, a):
            m = await device.expect("message")
            assert m["conversation_id"] == conv and m["seq"] == 1
            assert m["message"]["id"] == ack["message_id"] and m["message"]["sender_id"] == alice.id
            assert m["message"]["kind"] == "text" and m["message"]["body"] == {"text": "你好"}
            assert m["message"]["created_at"]
        await b2.send(text("c1", conv, "hi"))  # the same cid from another sender is another message
        assert (await b2.expect("ack"))["seq"] == 2
        assert (await a.expect("message", seq=2))["message"]["sender_id"] == bob.id


async def test_message_frames_carry_the_senders_card_live_and_on_sync(server, client, users):
    alice, bob, conv = await pair(client, users)
    alice_card = {"id": alice.id, "display_name": "alice", "avatar_url": None, "badge": None}
    async with ws_connect(server, alice) as a, ws_connect(server, bob) as b:
        await a.send(text("c1", conv, "你好"))
        await a.expect("ack")
        live = (await b.expect("message"))["message"]
        assert live["sender_id"] == alice.id and live["sender"] == alice_card
        await b.send({"op": "sync", "conversation_id": conv, "after_seq": 0})
        synced = (await b.expect("message", seq=1))["message"]
        assert synced["sender"] == alice_card
        # A REST send (another path to the same frame) carries it too.
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            r = await http.post(
                f"/v1/conversations/{conv}/messages",
                json={"cid": "c2", "body": {"kind": "text", "text": "hi"}},
                headers=bob.headers,
            )
        assert r.status_code == 200, r.text
        other = (await a.expect("message", seq=2))["message"]
        assert other["sender"] == {"id": bob.id, "display_name": "bob", "avatar_url": None, "badge": None}


async def test_auth_by_query_first_frame_or_header(server, client, users):
    alice = await users.make("alice")
    async with websockets.connect(ws_url(server)) as ws:
        await ws.send(json.dumps({"op": "auth", "token": alice.token}))
        assert json.loads(await ws.recv())["op"] == "ready"
        await ws.send(json.dumps({"op": "ping"}))
        assert json.loads(await ws.recv()) == {"op": "pong"}
    async with websockets.connect(
        ws_url(server), additional_headers={"Authorization": f"Bearer {alice.token}"}
    ) as ws:
        ready = json.loads(await ws.recv())
        assert ready["op"] == "ready" and ready["user_id"] == alice.id


@pytest.mark.parametrize(
    "query_token, first_frame",
    [
        ("not-a-token", None),
        (None, {"op": "auth", "token": "not-a-token"}),
        (None, {"op": "send", "cid": "x", "conversation_id": "c", "body": {"kind": "text", "text": "x"}}),
        (None, "not json"),
        (None, {"op": "auth"}),
    ],
)
async def test_bad_credentials_get_an_error_and_a_close(server, query_token, first_frame):
    async with websockets.connect(ws_url(server, query_token)) as ws:
        if first_frame is not None:
            await ws.send(first_frame if isinstance(first_frame, str) else json.dumps(first_frame))
        err = json.loads(await ws.recv())
        assert err["op"] == "error" and err["code"] == "unauthenticated"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_a_token_for_a_deleted_user_is_refused(server, client, users, rt):
    from app.auth import tokens

    async with websockets.connect(ws_url(server, tokens.issue(rt.settings, "u_nobody"))) as ws:
        assert json.loads(await ws.recv())["code"] == "unauthenticated"


async def test_a_resent_cid_gets_the_same_ack_and_is_stored_once(server, client, users):
    alice, bob, conv = await pair(client, users)
    async with ws_connect(server, alice) as a1, ws_connect(server, alice) as a2, ws_connect(server, bob) as b:
        await a1.send(text("dup", conv, "once"))
        first = await a1.expect("ack")
        await a1.send(text("dup", conv, "once"))
        assert await a1.expect("ack") == first
        # Two devices resending the same cid at the same moment: still one message.
        async with anyio.create_task_group() as tg:
            for dev in (a1, a2):
                tg.start_soon(dev.send, text("race", conv, "both"))
        acks = [await a1.expect("ack", cid="race"), await a2.expect("ack", cid="race")]
        assert acks[0] == acks[1] and acks[0]["seq"] == 2
        # a later message is the sentinel: before it, bob got each of the two exactly once
        await a1.send(text("after", conv, "after"))
        assert (await a1.expect("ack", cid="after"))["seq"] == 3
        before = await b.until("message", seq=3)
        assert [f["seq"] for f in before if f["op"] == "message"] == [1, 2]
    r = await client.get(f"/v1/conversations/{conv}/messages", headers=bob.headers)
    assert [m["body"]["text"] for m in r.json()["items"]] == ["once", "both", "after"]


async def test_a_reconnecting_client_syncs_exactly_what_it_missed(server, client, users):
    alice, bob, conv = await pair(client, users)
    async with ws_connect(server, alice) as a:
        async with ws_connect(server, bob) as b:
            for i in range(1, 4):
                await a.send(text(f"m{i}", conv, f"m{i}"))
                await a.expect("ack", cid=f"m{i}")
            seen = [(await b.expect("message", seq=i))["seq"] for i in range(1, 4)]
            assert seen == [1, 2, 3]
        for i in range(4, 9):  # bob is offline
            await a.send(text(f"m{i}", conv, f"m{i}"))
            await a.expect("ack", cid=f"m{i}")
        async with ws_connect(server, bob) as b:
            await b.send({"op": "sync", "conversation_id": conv, "after_seq": 3})
            synced = await b.expect("synced")
            assert synced == {"op": "synced", "conversation_id": conv, "seq": 8, "more": False}
            missed = [f for f in b.buffer if f["op"] == "message"]
            assert [f["seq"] for f in missed] == [4, 5, 6, 7, 8]
            assert [f["message"]["body"]["text"] for f in missed] == [f"m{i}" for i in range(4, 9)]
            b.buffer.clear()
            await b.send({"op": "sync", "conversation_id": conv, "after_seq": 8})
            assert (await b.recv())["op"] == "synced", "nothing more was missed"
            await b.send({"op": "sync", "conversation_id": conv, "after_seq": 50})
            assert (await b.expect("synced"))["seq"] == 8


async def test_read_moves_the_marker_and_tells_my_other_devices(server, client, users):
    alice, bob, conv = await pair(client, users)
    async with ws_connect(server, alice) as a, ws_connect(server, bob) as b1, ws_connect(server, bob) as b2:
        for i in range(3):
            await a.send(text(f"r{i}", conv, "x"))
            await a.expect("ack", cid=f"r{i}")
        await b1.send({"op": "read", "conversation_id": conv, "seq": 2})
        assert (await b2.expect("read")) == {"op": "read", "conversation_id": conv, "seq": 2}
    r = await client.get("/v1/conversations", headers=bob.headers)
    assert r.json()["items"][0]["unread_count"] == 1 and r.json()["items"][0]["last_read_seq"] == 2


BIG = "x" * (64 * 1024 + 10)


@pytest.mark.parametrize(
    "frame, code, cid",
    [
        ("not json", "validation_error", None),
        ("[1, 2]", "validation_error", None),
        ('"send"', "validation_error", None),
        ("null", "validation_error", None),
        ("{}", "validation_error", None),
        ({"op": "shout", "cid": "k1"}, "validation_error", "k1"),
        ({"op": 7}, "validation_error", None),
        ({"op": "send", "cid": "k2"}, "validation_error", "k2"),
        (
            {
                "op": "send",
                "cid": "k3",
                "conversation_id": "CONV",
                "body": {"kind": "text", "text": "x" * 4001},
            },
            "validation_error",
            "k3",
        ),
        (
            {"op": "send", "cid": "k4", "conversation_id": "CONV", "body": {"kind": "text", "text": "  "}},
            "validation_error",
            "k4",
        ),
        (
            {"op": "send", "cid": "k5", "conversation_id": "CONV", "body": {"kind": "image", "url": "x"}},
            "validation_error",
            "k5",
        ),
        (
            {"op": "send", "cid": "k6", "conversation_id": "CONV", "body": {"kind": "text", "text": BIG}},
            "payload_too_large",
            None,
        ),
        (
            {"op": "send", "cid": "k7", "conversation_id": "c_nope", "body": {"kind": "text", "text": "x"}},
            "not_found",
            "k7",
        ),
        ({"op": "sync", "conversation_id": "CONV", "after_seq": -1}, "validation_error", None),
        ({"op": "read", "conversation_id": "CONV"}, "validation_error", None),
        ({"op": "auth", "token": "again"}, "validation_error", None),
        (b"\x00binary", "validation_error", None),
    ],
)
async def test_bad_frames_get_an_error_frame_and_the_connection_stays_usable(
    server, client, users, frame, code, cid
):
    alice, _, conv = await pair(client, users)
    if isinstance(frame, dict):
        frame = json.loads(json.dumps(frame).replace("CONV", conv))
    async with ws_connect(server, alice) as a:
        await a.send(frame)
        err = await a.expect("error")
        assert err["code"] == code and err["cid"] == cid and err["message"], err
        await a.roundtrip()
        await a.send(text("ok", conv, "still here"))
        assert (await a.expect("ack"))["seq"] == 1
    r = await client.get(f"/v1/conversations/{conv}/messages", headers=alice.headers)
    assert [m["body"]["text"] for m in r.json()["items"]] == ["still here"]


async def test_outsiders_can_neither_post_sync_read_nor_listen(server, client, users):
    alice, bob, conv = await pair(client, users)
    mallory = await users.make("mallory")
    await users.friends(alice, mallory)
    r = await client.post("/v1/conversations", json={"member_ids": [mallory.id]}, headers=alice.headers)
    theirs = r.json()["id"]  # alice and mallory's own chat, for the sentinel
    async with ws_connect(server, alice) as a, ws_connect(server, mallory) as m:
        for frame in (
            text("evil", conv, "let me in"),
            {"op": "sync", "conversation_id": conv, "after_seq": 0},
            {"op": "read", "conversation_id": conv, "seq": 1},
        ):
            await m.send(frame)
            err = await m.expect("error")
            assert err["code"] == "not_found"
        await a.send(text("s", conv, "secret"))
        await a.expect("ack", cid="s")
        # alice's next message, to mallory, goes out after the secret one would have
        await a.send(text("hello", theirs, "hello mallory"))
        await a.expect("ack", cid="hello")
        before = await m.until("message", conversation_id=theirs)
        assert [f for f in before if f["op"] == "message"] == []
    r = await client.get(f"/v1/conversations/{conv}/messages", headers=bob.headers)
    assert [m["body"]["text"] for m in r.json()["items"]] == ["secret"]


async def test_blocked_users_cannot_message_over_the_socket(server, client, users, rt):
    from app.db import transaction
    from social.friends.models import Block

    alice, bob, conv = await pair(client, users)
    async with rt.sessionmaker() as db, transaction(db):
        db.add(Block(blocker_id=bob.id, blocked_id=alice.id, created_at=rt.clock.now()))
    async with ws_connect(server, alice) as a:
        await a.send(text("b", conv, "hi"))
        assert (await a.expect("error", cid="b"))["code"] == "forbidden"


async def test_seq_has_no_gaps_under_concurrent_senders(server, client, users):
    owner = await users.make("owner")
    members = [await users.make(f"m{i}") for i in range(4)]
    for m in members:
        await users.friends(owner, m)
    r = await client.post(
        "/v1/conversations",
        json={"member_ids": [m.id for m in members], "title": "busy"},
        headers=owner.headers,
    )
    conv = r.json()["id"]
    per_sender = 15
    acks: list[int] = []
    async with ws_connect(server, owner) as listener:

        async def talk(person, device: int) -> None:
            async with ws_connect(server, person) as c:
                for i in range(per_sender):  # pipelined: all sent before reading the acks
                    await c.send(text(f"{device}-{i}", conv, f"{device}-{i}"))
                for i in range(per_sender):
                    acks.append((await c.expect("ack", wait_s=20, cid=f"{device}-{i}"))["seq"])

        async with anyio.create_task_group() as tg:
            for n, m in enumerate(members):
                tg.start_soon(talk, m, n)
        total = len(members) * per_sender
        assert sorted(acks) == list(range(2, total + 2)), "seq 1 is the group's system message"
        got = [(await listener.expect("message", wait_s=10, seq=s))["seq"] for s in range(2, total + 2)]
        assert got == list(range(2, total + 2))
        assert [f for f in listener.buffer if f["op"] == "message"] == [], "each message delivered once"


async def test_the_dev_relay_echoes_to_its_room(server):
    url = f"{server.ws_url}/v1/dev/ws-relay?room=r1"
    async with websockets.connect(url) as a, websockets.connect(url) as b:
        await a.send(json.dumps({"op": "send", "cid": "1", "body": {"t": 1}}))
        got = json.loads(await b.recv())
        assert got["op"] == "message" and got["cid"] == "1"
