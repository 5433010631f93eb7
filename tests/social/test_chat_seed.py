"""The demo seed gives Li Na a direct chat with Wang Wei and the group 周末徒步."""

from __future__ import annotations

from app import seed as seeding
from app.auth import tokens
from social.chat.seed import DIRECT, GROUP


async def test_li_na_sees_her_demo_conversations(rt, client):
    ctx = await seeding.run(rt)
    again = await seeding.run(rt)  # re-running is harmless
    assert not again.first_run
    headers = {"Authorization": f"Bearer {tokens.issue(rt.settings, ctx.users['lina'].id)}"}
    items = (await client.get("/v1/conversations", headers=headers)).json()["items"]
    [group] = [c for c in items if c["kind"] == "group"]
    [direct] = [c for c in items if c["kind"] == "direct" and c["peer"]["user_id"] == ctx.users["wangwei"].id]
    assert group["title"] == "周末徒步" and group["member_count"] == 4
    assert group["unread_count"] == 4, "the three friends' replies after Li Na's message, and a photo"
    r = await client.get(f"/v1/conversations/{group['id']}/messages", headers=headers)
    messages = r.json()["items"]
    assert [m["kind"] for m in messages] == ["system"] + ["text"] * len(GROUP) + ["image"]
    assert messages[0]["body"]["event"] == "group_created"
    assert [m["body"]["text"] for m in messages[1:-1]] == [text for _, text in GROUP]
    photo = messages[-1]
    assert photo["sender_id"] == ctx.users["wangwei"].id
    thumb = await client.get("/v1/media/" + photo["body"]["thumb_url"].split("/v1/media/", 1)[1])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    # The direct chat: the four lines, then Wang Wei's transfer and red packet (seeded
    # by the transfers and red packets features, in that order), each once.
    r = await client.get(f"/v1/conversations/{direct['id']}/messages", headers=headers)
    messages = r.json()["items"]
    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
    assert [m["kind"] for m in messages] == ["text"] * len(DIRECT) + ["transfer", "red_packet"]
    assert [m["body"]["text"] for m in messages[: len(DIRECT)]] == [text for _, text in DIRECT]
    assert {m["sender_id"] for m in messages[len(DIRECT) :]} == {ctx.users["wangwei"].id}
    assert direct["last_message"]["id"] == messages[-1]["id"]
    assert direct["last_message"]["kind"] == "red_packet"
