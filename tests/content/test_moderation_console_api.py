"""What the moderation console needs from the moderation service, over REST: queue filters
and counts, escalation, an item in full, the author's history, trying term lists before
saving them, audit filters, and new items pushed to moderators."""

from __future__ import annotations

from app.realtime.hub import user_channel
from content.moderation import termfilter
from tests.content.helpers import new_post
from tests.support.people import error_code


async def _queue(client, mod, **params):
    r = await client.get("/v1/moderation/queue", params=params, headers=mod.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def _setup(client, users):
    mod = await users.make("赵磊", roles="moderator,user")
    a = await users.make("王伟")
    b = await users.make("张敏")
    await new_post(client, a, text="保本保息，稳赚不赔")  # guaranteed_returns
    await new_post(client, b, text="私下联系，QQ 2233445566")  # contact_diversion
    reported = await new_post(client, a, text="楼下那家店真差劲")
    for n in range(3):
        reader = await users.make(f"读者{n}")
        r = await client.post(
            f"/v1/posts/{reported['id']}/report", json={"reason": "人身攻击"}, headers=reader.headers
        )
        assert r.status_code == 202, r.text
    return mod, a, b


async def test_queue_filters_by_reason_category_and_age(client, users, rt):
    mod, a, b = await _setup(client, users)
    assert len(await _queue(client, mod)) == 3
    assert [i["reason"] for i in await _queue(client, mod, reason="reports")] == ["reports"]
    assert len(await _queue(client, mod, reason="filter")) == 2
    [g] = await _queue(client, mod, category="guaranteed_returns")
    assert g["author_id"] == a.id and g["author_name"] == "王伟"
    [c] = await _queue(client, mod, category="contact_diversion")
    assert c["author_id"] == b.id
    assert await _queue(client, mod, older_than_h=2) == []
    await rt.advance_clock(3 * 3600)
    assert len(await _queue(client, mod, older_than_h=2)) == 3
    for bad in ({"state": "nope"}, {"reason": "x"}, {"older_than_h": -1}):
        r = await client.get("/v1/moderation/queue", params=bad, headers=mod.headers)
        assert r.status_code == 422, bad


async def test_counts_per_state_and_escalation(client, users):
    mod, _, _ = await _setup(client, users)
    r = await client.get("/v1/moderation/counts", headers=mod.headers)
    assert r.json() == {"pending": 3, "escalated": 0, "approved": 0, "rejected": 0, "removed": 0}
    items = await _queue(client, mod)
    decide = "/v1/moderation/items/{}/decision"
    r = await client.post(
        decide.format(items[0]["id"]), json={"action": "escalate", "reason": "需要复核"}, headers=mod.headers
    )
    assert r.status_code == 200 and r.json()["target_status"] == "escalated"
    r = await client.post(
        decide.format(items[0]["id"]), json={"action": "escalate", "reason": "再次"}, headers=mod.headers
    )
    assert r.status_code == 409
    await client.post(
        decide.format(items[1]["id"]), json={"action": "approve", "reason": "ok"}, headers=mod.headers
    )
    await client.post(
        decide.format(items[2]["id"]), json={"action": "remove", "reason": "no"}, headers=mod.headers
    )
    r = await client.get("/v1/moderation/counts", headers=mod.headers)
    assert r.json() == {"pending": 0, "escalated": 1, "approved": 1, "rejected": 0, "removed": 1}
    assert [i["id"] for i in await _queue(client, mod, state="escalated")] == [items[0]["id"]]
    assert [i["escalated"] for i in await _queue(client, mod)] == [True]  # open = pending + escalated
    assert await _queue(client, mod, state="pending") == []
    assert [i["id"] for i in await _queue(client, mod, state="removed")] == [items[2]["id"]]
    # an escalated item is still decided as usual
    r = await client.post(
        decide.format(items[0]["id"]), json={"action": "remove", "reason": "确认违规"}, headers=mod.headers
    )
    assert r.status_code == 200
    audit = (
        await client.get(
            "/v1/moderation/audit", params={"target_id": items[0]["target_id"]}, headers=mod.headers
        )
    ).json()
    assert [e["action"] for e in audit["items"]] == ["remove", "escalate"]
    assert audit["items"][0]["moderator_name"] == "赵磊"


async def test_item_in_full_marks_the_terms_and_shows_the_author(client, users, rt):
    mod, a, _ = await _setup(client, users)
    [item] = await _queue(client, mod, category="guaranteed_returns")
    r = await client.get(f"/v1/moderation/items/{item['id']}", headers=mod.headers)
    assert r.status_code == 200
    d = r.json()
    assert d["text"] == "保本保息，稳赚不赔"
    assert [d["text"][s["start"] : s["end"]] for s in d["spans"]] == ["保本保息", "稳赚不赔"]
    assert d["history"]["author"]["display_name"] == "王伟" and d["history"]["author"]["muted_until"] is None
    assert {p["excerpt"] for p in d["history"]["posts"]} == {"保本保息，稳赚不赔", "楼下那家店真差劲"}
    assert len(d["history"]["items"]) == 2
    await client.post(
        f"/v1/moderation/users/{a.id}/mute", json={"hours": 24, "reason": "屡次违规"}, headers=mod.headers
    )
    await client.post(
        f"/v1/moderation/items/{item['id']}/decision",
        json={"action": "remove", "reason": "承诺收益"},
        headers=mod.headers,
    )
    d = (await client.get(f"/v1/moderation/items/{item['id']}", headers=mod.headers)).json()
    assert d["status"] == "closed" and d["decision"] == "remove"
    assert d["history"]["author"]["muted_until"] is not None
    assert [
        (x["decision"], x["decision_reason"]) for x in d["history"]["items"] if x["id"] == item["id"]
    ] == [("remove", "承诺收益")]
    assert [x["action"] for x in d["decisions"]] == ["remove"]
    assert (await client.get("/v1/moderation/items/mi_nope", headers=mod.headers)).status_code == 404
    assert (await client.get(f"/v1/moderation/items/{item['id']}", headers=a.headers)).status_code == 403
    r = await client.get(f"/v1/moderation/users/{a.id}/history", headers=mod.headers)
    assert r.status_code == 200 and r.json()["author"]["id"] == a.id


async def test_preview_tries_unsaved_term_lists_and_changes_nothing(client, users):
    mod = await users.make("赵磊", roles="moderator,user")
    text = "新品刷单返利，加我微信 abcdef123"
    r = await client.post("/v1/moderation/terms/preview", json={"text": text}, headers=mod.headers)
    assert r.json()["action"] == "review" and "spam" not in r.json()["hits"]
    lists = {"spam": {"action": "block", "terms": ["刷单"]}}
    r = await client.post(
        "/v1/moderation/terms/preview", json={"text": text, "categories": lists}, headers=mod.headers
    )
    body = r.json()
    assert body["action"] == "block" and body["hits"] == {"spam": ["刷单"]}
    assert [text[s["start"] : s["end"]] for s in body["spans"]] == ["刷单"]
    terms = (await client.get("/v1/moderation/terms", headers=mod.headers)).json()
    assert terms["version"] == 0 and "spam" not in terms["categories"]
    bad = {"text": text, "categories": {"Bad Name": {"action": "block", "terms": []}}}
    assert (
        await client.post("/v1/moderation/terms/preview", json=bad, headers=mod.headers)
    ).status_code == 422
    user = await users.make("王伟")
    assert (
        await client.post("/v1/moderation/terms/preview", json={"text": text}, headers=user.headers)
    ).status_code == 403


async def test_audit_log_filters(client, users, rt):
    mod, a, _ = await _setup(client, users)
    other = await users.make("钱多", roles="moderator,user")
    items = await _queue(client, mod)
    await client.post(
        f"/v1/moderation/items/{items[0]['id']}/decision",
        json={"action": "approve", "reason": "ok"},
        headers=mod.headers,
    )
    await client.post(
        f"/v1/moderation/users/{a.id}/mute", json={"hours": 1, "reason": "刷屏"}, headers=other.headers
    )

    async def actions(**params):
        r = await client.get("/v1/moderation/audit", params=params, headers=mod.headers)
        assert r.status_code == 200, r.text
        return [e["action"] for e in r.json()["items"]]

    assert await actions() == ["mute", "approve"]
    assert await actions(action="mute") == ["mute"]
    assert await actions(moderator_id=mod.id) == ["approve"]
    assert await actions(target_kind="user") == ["mute"]
    rt.clock.advance(1)  # the clock stands still: both entries are at the instant it shows
    later = rt.clock.now().isoformat()
    assert await actions(since=later) == []
    r = await client.get("/v1/moderation/audit", params={"since": "2026-01-01T00:00:00"}, headers=mod.headers)
    assert r.status_code == 422 and error_code(r) == "validation_error"


async def test_new_queue_items_are_pushed_to_moderators(client, users, rt):
    mod = await users.make("赵磊", roles="moderator,user")
    admin = await users.make("管理员", roles="admin,user")
    author = await users.make("王伟")
    async with rt.hub.subscribe(
        [user_channel(mod.id), user_channel(admin.id), user_channel(author.id)]
    ) as sub:
        post = await new_post(client, author, text="零风险高收益，私下联系")
        frames = []
        while not sub.queue.empty():
            frames.append(sub.queue.get_nowait())
    pushed = [f for f in frames if f.get("op") == "moderation"]
    assert len(pushed) == 2  # the moderator and the admin, not the author
    assert pushed[0]["event"] == "item_opened" and pushed[0]["item"]["target_id"] == post["id"]
    assert set(pushed[0]["item"]["categories"]) == {"guaranteed_returns", "contact_diversion"}


def test_spans_map_matches_back_to_the_original_text():
    f = termfilter.build(termfilter.DEFAULT_CONFIG, ["bank.example"])
    text = "本产品保 本-保*息，年化收益12%，加我微信abc12345，见 evil.com 或 bank.example，ＱＱ１２３４５６"
    spans = f.spans(text)
    found = {(s.category, text[s.start : s.end]) for s in spans}
    assert ("guaranteed_returns", "保 本-保*息") in found  # evasions folded, original kept
    assert ("guaranteed_returns", "年化收益12") in found
    assert ("contact_diversion", "evil.com") in found
    assert ("contact_diversion", "ＱＱ１２３４５６") in found  # full-width
    assert not any("bank.example" in text[s.start : s.end] for s in spans)
    assert set(f.scan(text).hits) == {s.category for s in spans}
    pieces = termfilter.segments(text, spans)
    assert "".join(p for p, _ in pieces) == text
    marked = [p for p, c in pieces if c]
    assert marked[0] == "保 本-保*息" and "加我微信abc12345" in marked  # overlapping matches joined


def test_segments_of_text_without_matches():
    assert termfilter.segments("你好", []) == [("你好", None)]
    assert termfilter.segments("", []) == []
