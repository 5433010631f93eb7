"""Issue 14 item 3: the OpenAPI document is accurate enough to build a client from.

A client is generated from ``/openapi.json`` with ``openapi-python-client`` and used for a
round trip (log in with the OTP, read /v1/me, open a chat, send a text and an uploaded
image, grab a red packet, read the messages typed per kind, read a friend's forest), so the
description cannot drift from what is served. Plus the details a generator relies on:
``Idempotency-Key`` required where leaving it out is a 422, the documented error statuses
with the envelope, and a message's ``body`` typed per ``kind``.
"""

from __future__ import annotations

import importlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from tests.games.helpers import ripe_ball

ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}


def envelope_of(op: dict[str, Any], status: int) -> Any:
    return op["responses"][str(status)]["content"]["application/json"]["schema"]


async def test_idempotency_key_is_required_where_leaving_it_out_is_a_422(app, client, users):
    alice = await users.make("alice", balance_fen=1_000)
    doc = app.openapi()
    keyed = [
        (path, method, p)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        for p in op.get("parameters", [])
        if p["name"] == "Idempotency-Key"
    ]
    assert len(keyed) >= 6, keyed
    for path, method, param in keyed:
        assert param["required"] is True and param["in"] == "header", (method, path)
        assert param["schema"]["maxLength"] == 128
    r = await client.post(
        "/v1/transfers", json={"to_user_id": alice.id, "amount_fen": 1}, headers=alice.headers
    )
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "Idempotency-Key", r.text


async def test_error_responses_are_documented_with_the_envelope(app):
    doc = app.openapi()
    paths = doc["paths"]
    assert envelope_of(paths["/v1/me"]["get"], 401) == ENVELOPE
    grab = paths["/v1/red-packets/{packet_id}/grab"]["post"]
    for status in (401, 403, 404, 409, 410, 422, 503):
        assert envelope_of(grab, status) == ENVELOPE, status
    assert "Retry-After" in paths["/v1/auth/otp"]["post"]["responses"]["429"]["headers"]
    assert envelope_of(paths["/v1/transfers/{transfer_id}/accept"]["post"], 410) == ENVELOPE
    seen = {s for ops in paths.values() for op in ops.values() for s in op["responses"]}
    assert {"401", "403", "404", "409", "410", "429", "503"} <= seen
    for ops in paths.values():
        for op in ops.values():
            for status, response in op["responses"].items():
                if status >= "400" and "application/json" in response.get("content", {}):
                    assert envelope_of(op, int(status)) == ENVELOPE


async def test_message_body_is_a_union_discriminated_by_kind(app):
    schemas = app.openapi()["components"]["schemas"]
    union = schemas["MessagePublic"]
    assert union["discriminator"]["propertyName"] == "kind"
    assert set(union["discriminator"]["mapping"]) >= {"text", "image", "transfer", "red_packet", "system"}
    system = schemas["SystemMessage"]["properties"]["body"]
    assert system["discriminator"]["propertyName"] == "event"
    assert {"red_packet_claimed", "red_packet_refunded", "transfer_refunded", "group_created"} <= set(
        system["discriminator"]["mapping"]
    )
    assert schemas["ImageContent"]["required"][:3] == ["media_id", "url", "thumb_url"]


def generate(doc: dict[str, Any], where: Path) -> Any:
    spec = where / "openapi.json"
    spec.write_text(json.dumps(doc))
    config = where / "config.yaml"
    config.write_text("post_hooks: []\npackage_name_override: quanzi_client\n")
    generator = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run(
        [str(generator), "generate", "--path", str(spec), "--config", str(config), "--meta", "none"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Unable to" not in done.stdout, done.stdout
    sys.path.insert(0, str(where))
    try:
        for name in [m for m in sys.modules if m == "quanzi_client" or m.startswith("quanzi_client.")]:
            del sys.modules[name]
        return importlib.import_module("quanzi_client")
    finally:
        sys.path.remove(str(where))


def op(package: str, name: str) -> Any:
    return importlib.import_module(f"quanzi_client.api.{package}.{name}")


async def test_a_client_generated_from_the_document_does_a_round_trip(app, client, users, tmp_path):
    served = await client.get("/openapi.json")
    qc = generate(served.json(), tmp_path)
    models = importlib.import_module("quanzi_client.models")
    transport = httpx.ASGITransport(app=app)
    anonymous = qc.Client(base_url="http://test", httpx_args={"transport": transport})

    phone = "+8613900001234"
    sent = await op("auth", "request_otp_v1_auth_otp_post").asyncio_detailed(
        client=anonymous, body=models.OtpRequest(phone=phone)
    )
    assert sent.status_code == 202, sent.content
    token = await op("auth", "token_v1_auth_token_post").asyncio_detailed(
        client=anonymous, body=models.TokenRequest(phone=phone, code=sent.parsed.dev_code)
    )
    assert isinstance(token.parsed, models.TokenPublic), token.content
    me_client = qc.AuthenticatedClient(
        base_url="http://test", token=token.parsed.access_token, httpx_args={"transport": transport}
    )
    me = await op("auth", "me_v1_me_get").asyncio(client=me_client)
    assert isinstance(me, models.MePublic) and me.id == token.parsed.user.id

    # Unauthenticated: the error envelope is parsed as the documented model.
    refused = await op("auth", "me_v1_me_get").asyncio(client=anonymous)
    assert isinstance(refused, models.ErrorEnvelope) and refused.error.code == "unauthenticated"

    bob = await users.make("bob", balance_fen=1_000)
    async with app.state.rt.sessionmaker() as db:
        from social.friends import service as friends

        await friends.make_friends(db, me.id, bob.id, now=app.state.rt.clock.now())
        await db.commit()
    conv = await op("chat", "create_conversation_v1_conversations_post").asyncio(
        client=me_client, body=models.ConversationCreate(member_ids=[bob.id])
    )
    assert isinstance(conv, models.ConversationDetail), conv
    ack = await op("chat", "send_message_v1_conversations_conversation_id_messages_post").asyncio(
        conversation_id=conv.id,
        client=me_client,
        body=models.MessageCreate(cid="c-1", body=models.TextBody(kind="text", text="你好")),
    )
    assert isinstance(ack, models.Ack) and ack.seq >= 1, ack
    # An image: uploaded through the client (multipart), sent as a message.
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), "#2e7d32").save(photo, format="PNG")
    media = await op("content", "upload_v1_media_post").asyncio(
        client=me_client,
        body=models.BodyUploadV1MediaPost(
            file=qc.types.File(payload=io.BytesIO(photo.getvalue()), file_name="p.png", mime_type="image/png")
        ),
    )
    assert isinstance(media, models.MediaPublic), media
    sent_image = await op("chat", "send_message_v1_conversations_conversation_id_messages_post").asyncio(
        conversation_id=conv.id,
        client=me_client,
        body=models.MessageCreate(cid="c-2", body=models.ImageBody(kind="image", media_id=media.id)),
    )
    assert isinstance(sent_image, models.Ack), sent_image

    # A red packet from Bob, grabbed through the client (Idempotency-Key is a required argument).
    packet = await client.post(
        "/v1/red-packets",
        json={"conversation_id": conv.id, "total_fen": 100, "count": 1, "mode": "equal"},
        headers={**bob.headers, "Idempotency-Key": "rp-1"},
    )
    assert packet.status_code == 201, packet.text
    grabbed = await op("red_packets", "grab_v1_red_packets_packet_id_grab_post").asyncio(
        packet_id=packet.json()["id"], client=me_client, idempotency_key="g-1"
    )
    assert isinstance(grabbed, models.GrabPublic) and grabbed.amount_fen == 100, grabbed

    page = await op("chat", "list_messages_v1_conversations_conversation_id_messages_get").asyncio(
        conversation_id=conv.id, client=me_client
    )
    assert isinstance(page, models.MessagePage), page
    kinds = [type(m).__name__ for m in page.items]
    assert kinds[:2] == ["TextMessage", "ImageMessage"] and "RedPacketMessage" in kinds, kinds
    assert "SystemMessage" in kinds  # the claim
    assert page.items[0].body.text == "你好"
    image = page.items[1]
    assert image.body.media_id == media.id and image.body.thumb_url, image

    # A friend's forest: Bob's ripe ball, by id.
    await ripe_ball(client, app.state.rt, bob)
    forest = await op("forest", "friend_forest_v1_forest_friends_friend_id_get").asyncio(
        friend_id=bob.id, client=me_client
    )
    assert isinstance(forest, models.FriendForestDetail), forest
    assert forest.balls and all(ball.id for ball in forest.balls), forest
