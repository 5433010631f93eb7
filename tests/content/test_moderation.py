from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from content.config import ContentSettings
from content.moderation import termfilter
from tests.content.helpers import feed_ids, new_post
from tests.support.people import error_code

FILTER = termfilter.build(termfilter.DEFAULT_CONFIG, ["bank.example"])


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # guaranteed returns
        ("这款产品保本保息，放心买", "guaranteed_returns"),
        ("稳赚不赔的好机会", "guaranteed_returns"),
        ("保 本 保 息", "guaranteed_returns"),
        ("稳·赚·不·赔！", "guaranteed_returns"),
        ("年化收益12%，闭眼入", "guaranteed_returns"),
        ("年化收益１２％", "guaranteed_returns"),  # full-width digits
        ("年 化 收 益 率 8.5 %", "guaranteed_returns"),
        # diversion to outside contact
        ("有问题加我微信 licai_888", "contact_diversion"),
        ("V X：abc12345 详聊", "contact_diversion"),
        ("电话 138-0013-8000", "contact_diversion"),
        ("电话１３８００１３８０００", "contact_diversion"),
        ("ＱＱ：１２３４５６７８９", "contact_diversion"),
        ("详情看 www.licai-vip.cn", "contact_diversion"),
        ("点开 https://t.ly/abc 领取", "contact_diversion"),
        # illegal fund-raising
        ("民间集资，月月分红", "illegal_fundraising"),
        ("拉 人 头 有奖励", "illegal_fundraising"),
        ("高$息$揽$储", "illegal_fundraising"),
        # profanity
        ("你就是个傻逼", "profanity"),
        ("他 妈 的 又跌了", "profanity"),
    ],
)
def test_each_category_is_caught_with_evasions(text, category):
    verdict = FILTER.scan(text)
    assert category in verdict.hits, verdict
    assert verdict.action == termfilter.DEFAULT_CONFIG[category]["action"]


@pytest.mark.parametrize(
    "text",
    [
        "今天聊聊基金定投，长期持有",
        "理财有风险，投资需谨慎",
        "产品详情见 https://bank.example/p/1",
        "我买了 100 份，成本 1.25 元",
        "警惕非法集资，保护好自己的钱袋子",
    ],
)
def test_ordinary_text_passes(text):
    assert FILTER.scan(text).action == "allow"


async def test_blocking_category_is_422_with_the_category(client, users):
    alice = await users.make("alice")
    r = await client.post(
        "/v1/posts", json={"kind": "post", "text": "民 间 集 资，月息3分"}, headers=alice.headers
    )
    assert r.status_code == 422
    assert error_code(r) == "validation_error"
    assert r.json()["error"]["details"]["category"] == "illegal_fundraising"
    assert await feed_ids(client, alice, "latest") == []


async def test_flagged_text_is_published_with_flags(client, users):
    alice = await users.make("alice")
    p = await new_post(client, alice, text="他妈的，又跌了")
    assert p["status"] == "published" and p["flags"] == ["profanity"]


async def test_held_post_goes_to_the_queue_and_a_moderator_decides(client, users):
    alice = await users.make("alice")
    bob = await users.make("bob")
    mod = await users.make("mod", roles="moderator,user")
    first = await new_post(client, alice, text="加我微信 licai888 带你赚钱")
    second = await new_post(client, bob, text="保本保息，年化收益15%")
    assert first["status"] == second["status"] == "pending_review"
    r = await client.get("/v1/moderation/queue", headers=alice.headers)
    assert r.status_code == 403 and error_code(r) == "forbidden"
    queue = (await client.get("/v1/moderation/queue", headers=mod.headers)).json()["items"]
    assert [i["target_id"] for i in queue] == [first["id"], second["id"]]  # oldest first
    assert queue[0]["reason"] == "filter" and queue[0]["details"]["categories"] == ["contact_diversion"]
    assert queue[0]["target"]["text"] == first["text"]
    # Only moderators decide.
    url = f"/v1/moderation/items/{queue[0]['id']}/decision"
    r = await client.post(url, json={"action": "approve", "reason": "ok"}, headers=alice.headers)
    assert r.status_code == 403
    r = await client.post(url, json={"action": "reject", "reason": "外部联系方式"}, headers=mod.headers)
    assert r.status_code == 200 and r.json()["target_status"] == "removed"
    r = await client.post(url, json={"action": "approve", "reason": "changed my mind"}, headers=mod.headers)
    assert r.status_code == 409
    url2 = f"/v1/moderation/items/{queue[1]['id']}/decision"
    r = await client.post(url2, json={"action": "approve", "reason": "教育内容"}, headers=mod.headers)
    assert r.json()["target_status"] == "published"
    assert await feed_ids(client, alice, "latest") == [second["id"]]
    assert (await client.get("/v1/moderation/queue", headers=mod.headers)).json()["items"] == []
    # Authors are notified.
    notes = (await client.get("/v1/notifications", headers=alice.headers)).json()["items"]
    assert notes[0]["kind"] == "moderation_decision" and notes[0]["data"]["decision"] == "reject"
    assert notes[0]["data"]["reason"] == "外部联系方式"
    # The audit log has both, newest first: who, what, when, why.
    audit = (await client.get("/v1/moderation/audit", headers=mod.headers)).json()["items"]
    assert [(a["action"], a["target_id"], a["moderator_id"]) for a in audit] == [
        ("approve", second["id"], mod.id),
        ("reject", first["id"], mod.id),
    ]
    assert audit[1]["reason"] == "外部联系方式" and audit[1]["created_at"]
    assert (await client.get("/v1/moderation/audit", headers=alice.headers)).status_code == 403


async def test_enough_reports_send_a_post_to_review_and_remove_notifies(client, users, rt):
    rt.settings = rt.settings.model_copy(update={"content": ContentSettings(report_threshold=2)})
    alice = await users.make("alice")
    r1, r2, reader = await users.make("r1"), await users.make("r2"), await users.make("reader")
    mod = await users.make("mod", roles="moderator,user")
    p = await new_post(client, alice, text="看起来正常的帖子")
    assert (
        await client.post(f"/v1/posts/{p['id']}/report", json={"reason": "骗子"}, headers=alice.headers)
    ).status_code == 422
    for _ in range(2):  # a second report by the same user counts once
        r = await client.post(f"/v1/posts/{p['id']}/report", json={"reason": "骗子"}, headers=r1.headers)
        assert r.status_code == 202
    assert p["id"] in await feed_ids(client, reader, "latest")
    await client.post(f"/v1/posts/{p['id']}/report", json={"reason": "诈骗"}, headers=r2.headers)
    assert await feed_ids(client, reader, "latest") == []
    [item] = (await client.get("/v1/moderation/queue", headers=mod.headers)).json()["items"]
    assert item["reason"] == "reports" and item["details"]["reports"] == 2
    assert sorted(item["details"]["reasons"]) == ["诈骗", "骗子"]
    r = await client.post(
        f"/v1/moderation/items/{item['id']}/decision",
        json={"action": "remove", "reason": "诈骗"},
        headers=mod.headers,
    )
    assert r.status_code == 200
    notes = (await client.get("/v1/notifications", headers=alice.headers)).json()["items"]
    assert notes[0]["kind"] == "post_removed" and notes[0]["data"]["post_id"] == p["id"]
    assert (await client.get(f"/v1/posts/{p['id']}", headers=alice.headers)).json()["status"] == "removed"
    assert (await client.get(f"/v1/posts/{p['id']}", headers=reader.headers)).status_code == 404


async def test_held_comment_is_counted_only_once_approved(client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    mod = await users.make("mod", roles="moderator,user")
    p = await new_post(client, alice)
    r = await client.post(
        f"/v1/posts/{p['id']}/comments", json={"text": "私聊加v：abc123456"}, headers=bob.headers
    )
    assert r.status_code == 201 and r.json()["status"] == "pending_review"
    assert (await client.get(f"/v1/posts/{p['id']}/comments", headers=alice.headers)).json()["items"] == []
    assert (await client.get(f"/v1/posts/{p['id']}", headers=alice.headers)).json()["comment_count"] == 0
    [item] = (await client.get("/v1/moderation/queue", headers=mod.headers)).json()["items"]
    assert item["target_kind"] == "comment"
    await client.post(
        f"/v1/moderation/items/{item['id']}/decision",
        json={"action": "approve", "reason": "ok"},
        headers=mod.headers,
    )
    assert (await client.get(f"/v1/posts/{p['id']}", headers=alice.headers)).json()["comment_count"] == 1


async def test_muted_users_cannot_post_or_comment_until_the_mute_ends(client, users, rt):
    alice, bob = await users.make("alice"), await users.make("bob")
    mod = await users.make("mod", roles="moderator,user")
    p = await new_post(client, alice)
    url = f"/v1/moderation/users/{bob.id}/mute"
    assert (
        await client.post(url, json={"hours": 1, "reason": "spam"}, headers=alice.headers)
    ).status_code == 403
    for bad in ({"hours": 0, "reason": "x"}, {"hours": "1", "reason": "x"}, {"hours": 1}):
        assert (await client.post(url, json=bad, headers=mod.headers)).status_code == 422
    r = await client.post(url, json={"hours": 1, "reason": "spam"}, headers=mod.headers)
    assert r.status_code == 200 and r.json()["user_id"] == bob.id
    r = await client.post("/v1/posts", json={"kind": "post", "text": "hi"}, headers=bob.headers)
    assert r.status_code == 403 and r.json()["error"]["details"]["reason"] == "muted"
    r = await client.post(f"/v1/posts/{p['id']}/comments", json={"text": "hi"}, headers=bob.headers)
    assert r.status_code == 403
    rt.clock.advance(3601)
    await new_post(client, bob, text="I'm back")
    audit = (await client.get("/v1/moderation/audit", headers=mod.headers)).json()["items"]
    assert audit[0]["action"] == "mute" and audit[0]["target_id"] == bob.id and audit[0]["reason"] == "spam"
    r = await client.post(
        "/v1/moderation/users/u_nope/mute", json={"hours": 1, "reason": "x"}, headers=mod.headers
    )
    assert r.status_code == 404


async def test_term_lists_are_editable_and_apply_without_restart_on_every_worker(client, users, settings):
    from app.runtime import build_runtime
    from content.moderation import service as moderation

    alice = await users.make("alice")
    mod = await users.make("mod", roles="moderator,user")
    assert (await client.get("/v1/moderation/terms", headers=alice.headers)).status_code == 403
    terms = (await client.get("/v1/moderation/terms", headers=mod.headers)).json()
    assert terms["version"] == 0 and "guaranteed_returns" in terms["categories"]
    # Another worker (its own runtime and cache) has built the old filter.
    other = build_runtime(settings)
    try:
        async with other.sessionmaker() as db:
            assert (await moderation.get_filter(db, other)).scan("内部消息必涨").action == "allow"
        cats = terms["categories"] | {"insider_tips": {"action": "block", "terms": ["内部消息"]}}
        r = await client.put(
            "/v1/moderation/terms", json={"categories": cats, "expected_version": 0}, headers=mod.headers
        )
        assert r.status_code == 200 and r.json()["version"] == 1
        r = await client.put(
            "/v1/moderation/terms", json={"categories": cats, "expected_version": 0}, headers=mod.headers
        )
        assert r.status_code == 409
        r = await client.post(
            "/v1/posts", json={"kind": "post", "text": "内 部 消 息：必涨"}, headers=alice.headers
        )
        assert r.status_code == 422 and r.json()["error"]["details"]["category"] == "insider_tips"
        async with other.sessionmaker() as db:
            assert (await moderation.get_filter(db, other)).scan("内部消息必涨").action == "block"
    finally:
        await other.close()
    audit = (await client.get("/v1/moderation/audit", headers=mod.headers)).json()["items"]
    assert audit[0]["action"] == "terms" and audit[0]["moderator_id"] == mod.id
    for bad in (
        {"categories": {"x": {"action": "delete", "terms": []}}},
        {"categories": {"Bad Name": {"action": "flag", "terms": []}}},
        {},
    ):
        assert (await client.put("/v1/moderation/terms", json=bad, headers=mod.headers)).status_code == 422


async def test_the_audit_log_cannot_be_edited(client, users, rt):
    alice = await users.make("alice")
    mod = await users.make("mod", roles="moderator,user")
    await client.post(
        f"/v1/moderation/users/{alice.id}/mute", json={"hours": 1, "reason": "x"}, headers=mod.headers
    )
    async with rt.sessionmaker() as db:
        with pytest.raises(DBAPIError):
            async with db.begin():
                await db.execute(text("UPDATE moderation_audit SET reason = 'nothing happened'"))
    audit = (await client.get("/v1/moderation/audit", headers=mod.headers)).json()["items"]
    assert audit[0]["reason"] == "x"


async def test_decision_on_unknown_item_and_bad_action(client, users):
    mod = await users.make("mod", roles="moderator,user")
    r = await client.post(
        "/v1/moderation/items/mi_nope/decision",
        json={"action": "approve", "reason": "x"},
        headers=mod.headers,
    )
    assert r.status_code == 404
    r = await client.post(
        "/v1/moderation/items/mi_nope/decision", json={"action": "ban", "reason": "x"}, headers=mod.headers
    )
    assert r.status_code == 422


async def test_edit_is_screened_again(client, users):
    alice = await users.make("alice")
    p = await new_post(client, alice)
    r = await client.patch(f"/v1/posts/{p['id']}", json={"text": "稳赚不赔"}, headers=alice.headers)
    assert r.status_code == 200 and r.json()["status"] == "pending_review"
    r = await client.patch(f"/v1/posts/{p['id']}", json={"text": "资金盘"}, headers=alice.headers)
    assert r.status_code == 422


async def test_only_moderators_reach_any_moderation_endpoint(client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    advisor = await users.make("adv", roles="advisor,user")
    held = await new_post(client, bob, text="稳赚不赔")
    mod = await users.make("mod", roles="moderator,user")
    [item] = (await client.get("/v1/moderation/queue", headers=mod.headers)).json()["items"]
    calls = [
        ("GET", "/v1/moderation/queue", None),
        ("GET", "/v1/moderation/terms", None),
        ("PUT", "/v1/moderation/terms", {"categories": {}}),
        ("POST", f"/v1/moderation/items/{item['id']}/decision", {"action": "approve", "reason": "ok"}),
        ("POST", f"/v1/moderation/users/{bob.id}/mute", {"hours": 1, "reason": "x"}),
        ("GET", "/v1/moderation/audit", None),
    ]
    for who in (alice, bob, advisor):
        for method, path, body in calls:
            r = await client.request(method, path, json=body, headers=who.headers)
            assert r.status_code == 403 and error_code(r) == "forbidden", (method, path)
    # Nothing changed: the item is still open, the post still held, no audit entry, bob can post.
    assert (await client.get("/v1/moderation/queue", headers=mod.headers)).json()["items"][0]["id"] == item[
        "id"
    ]
    assert (await client.get(f"/v1/posts/{held['id']}", headers=bob.headers)).json()[
        "status"
    ] == "pending_review"
    assert (await client.get("/v1/moderation/audit", headers=mod.headers)).json()["items"] == []
    assert (await client.get("/v1/moderation/terms", headers=mod.headers)).json()["version"] == 0
    await new_post(client, bob, text="still allowed to post")
    # An admin may moderate too.
    admin = await users.make("admin", roles="admin,user")
    assert (await client.get("/v1/moderation/queue", headers=admin.headers)).status_code == 200


async def test_other_users_cannot_see_or_touch_my_held_post(client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    held = await new_post(client, alice, text="保本保息")
    pid = held["id"]
    for method, path, body in [
        ("GET", f"/v1/posts/{pid}", None),
        ("PATCH", f"/v1/posts/{pid}", {"text": "x"}),
        ("DELETE", f"/v1/posts/{pid}", None),
        ("POST", f"/v1/posts/{pid}/like", None),
        ("POST", f"/v1/posts/{pid}/comments", {"text": "x"}),
        ("GET", f"/v1/posts/{pid}/comments", None),
        ("POST", f"/v1/posts/{pid}/report", {"reason": "x"}),
    ]:
        r = await client.request(method, path, json=body, headers=bob.headers)
        assert r.status_code == 404, (method, path)
        assert pid not in r.text
    got = (await client.get(f"/v1/posts/{pid}", headers=alice.headers)).json()
    assert got["text"] == "保本保息" and got["like_count"] == 0 and got["comment_count"] == 0
