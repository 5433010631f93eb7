"""Image messages: an upload of mine sent as a message over REST and the WebSocket, with
its URLs and thumbnail; someone else's or a removed upload is refused."""

from __future__ import annotations

import io

import pytest_asyncio
from PIL import Image

from tests.support.people import error_code
from tests.support.servers import running_servers
from tests.support.ws import ws_connect


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(base_settings):
    async with running_servers(base_settings) as [srv]:
        yield srv


def jpeg(w: int = 800, h: int = 600) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h), "#c62828").save(out, format="JPEG")
    return out.getvalue()


async def upload(client, who) -> dict:
    r = await client.post("/v1/media", files={"file": ("p.jpg", jpeg(), "image/jpeg")}, headers=who.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def chat(client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    r = await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    return alice, bob, r.json()["id"]


def image(media_id: str, cid: str = "img-1") -> dict:
    return {"cid": cid, "body": {"kind": "image", "media_id": media_id}}


async def test_an_uploaded_image_is_sent_over_rest_with_its_thumbnail(client, users):
    alice, bob, conv = await chat(client, users)
    up = await upload(client, alice)
    r = await client.post(f"/v1/conversations/{conv}/messages", json=image(up["id"]), headers=alice.headers)
    assert r.status_code == 200, r.text
    [msg] = (await client.get(f"/v1/conversations/{conv}/messages", headers=bob.headers)).json()["items"]
    assert msg["kind"] == "image" and msg["sender_id"] == alice.id
    body = msg["body"]
    assert body["media_id"] == up["id"] and body["url"] == up["url"] and body["thumb_url"] == up["thumb_url"]
    assert (body["width"], body["height"]) == (800, 600)
    assert max(body["thumb_width"], body["thumb_height"]) <= 320 and body["thumb_width"] > 0
    thumb = await client.get("/v1/media/" + body["thumb_url"].split("/v1/media/", 1)[1])
    assert thumb.status_code == 200
    again = await client.post(
        f"/v1/conversations/{conv}/messages", json=image(up["id"]), headers=alice.headers
    )
    assert again.json()["seq"] == r.json()["seq"]  # idempotent by cid


async def test_only_my_own_not_removed_uploads_can_be_sent(client, users):
    alice, bob, conv = await chat(client, users)
    bobs = await upload(client, bob)
    r = await client.post(f"/v1/conversations/{conv}/messages", json=image(bobs["id"]), headers=alice.headers)
    assert r.status_code == 422 and error_code(r) == "validation_error"
    assert r.json()["error"]["details"]["field"] == "body.media_id"
    mine = await upload(client, alice)
    assert (await client.delete(f"/v1/media/{mine['id']}", headers=bob.headers)).status_code == 404
    assert (await client.delete(f"/v1/media/{mine['id']}", headers=alice.headers)).status_code == 204
    assert (await client.get(f"/v1/media/{mine['id']}/thumb")).status_code == 404
    r = await client.post(f"/v1/conversations/{conv}/messages", json=image(mine["id"]), headers=alice.headers)
    assert r.status_code == 422
    for bad in ({"kind": "image"}, {"kind": "image", "media_id": "m_x", "text": "hi"}, {"kind": "video"}):
        r = await client.post(
            f"/v1/conversations/{conv}/messages", json={"cid": "b", "body": bad}, headers=alice.headers
        )
        assert r.status_code == 422, bad
    listed = (await client.get(f"/v1/conversations/{conv}/messages", headers=alice.headers)).json()
    assert listed["items"] == []


async def test_an_image_is_sent_over_the_websocket(server, client, users):
    alice, bob, conv = await chat(client, users)
    up = await upload(client, alice)
    async with ws_connect(server, alice) as a, ws_connect(server, bob) as b:
        await a.send({"op": "send", "conversation_id": conv, **image(up["id"], "w1")})
        ack = await a.expect("ack", cid="w1")
        m = await b.expect("message", seq=ack["seq"])
        assert m["message"]["kind"] == "image" and m["message"]["body"]["media_id"] == up["id"]
        assert m["message"]["body"]["thumb_url"].endswith(f"/v1/media/{up['id']}/thumb")
        await a.send({"op": "send", "conversation_id": conv, **image("m_nope", "w2")})
        err = await a.expect("error", cid="w2")
        assert err["code"] == "validation_error"
        await a.send(
            {"op": "send", "conversation_id": conv, "cid": "w3", "body": {"kind": "text", "text": "ok"}}
        )
        assert (await a.expect("ack", cid="w3"))["seq"] == ack["seq"] + 1
