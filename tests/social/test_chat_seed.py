"""The demo seed gives Li Na a direct chat with Wang Wei and the group 周末徒步."""

from __future__ import annotations

from app import seed as seeding
from app.auth import tokens


async def test_li_na_sees_her_demo_conversations(rt, client):
    ctx = await seeding.run(rt)
    again = await seeding.run(rt)  # re-running is harmless
    assert not again.first_run
    headers = {"Authorization": f"Bearer {tokens.issue(rt.settings, ctx.users['lina'].id)}"}
    items = (await client.get("/v1/conversations", headers=headers)).json()["items"]
    group = next(c for c in items if c["kind"] == "group")
    direct = next(
        c for c in items if c["kind"] == "direct" and c["peer"]["user_id"] == ctx.users["wangwei"].id
    )
    by_kind = {"group": group, "direct": direct}
    assert by_kind["group"]["title"] == "周末徒步" and by_kind["group"]["member_count"] == 4
    assert by_kind["direct"]["last_message"]["kind"] in ("text", "transfer", "red_packet", "system")
    assert by_kind["group"]["unread_count"] == 3, "the three friends' replies after Li Na's message"
    r = await client.get(f"/v1/conversations/{by_kind['direct']['id']}/messages", headers=headers)
    seqs = [m["seq"] for m in r.json()["items"]]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 4
