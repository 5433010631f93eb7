"""The "for you" feed tab (issue 17.8): ranked by the member's topic tags with the reason,
mixing followed, hot and suitable product posts, diversified, paged by a checked cursor;
without topic tags (no consent) it falls back to the hot order."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from content.feed import foryou
from content.posts.schemas import PostPublic
from tests.content.helpers import new_post
from tests.content.products_support import assess, catalogue


async def consent_to_content(client, who) -> None:
    r = await client.put(
        "/v1/me/consents", json={"consents": [{"scenario": "content", "granted": True}]}, headers=who.headers
    )
    assert r.status_code == 200, r.text


async def page(client, who, cursor: str | None = None, limit: int = 100) -> dict:
    params: dict = {"tab": "for_you", "limit": limit}
    if cursor:
        params["cursor"] = cursor
    r = await client.get("/v1/feed", params=params, headers=who.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def runs(items: list[dict]) -> list[tuple[str, str | None]]:
    return [(i["author"]["id"], (i["reason"] or {}).get("tag")) for i in items]


async def test_ranked_by_my_tags_with_the_reason(client, users):
    me, fundy, traveller = [await users.make(n) for n in ("me", "fundy", "traveller")]
    funds = [await new_post(client, fundy, text=f"基金定投第 {i} 周") for i in range(2)]
    trips = [await new_post(client, traveller, text=f"旅行日记 {i}") for i in range(3)]
    await consent_to_content(client, me)
    for p in funds:  # reading about funds makes topic:funds
        assert (await client.get(f"/v1/posts/{p['id']}", headers=me.headers)).status_code == 200
    items = (await page(client, me))["items"]
    assert {i["id"] for i in items} == {p["id"] for p in funds + trips}
    assert [i["id"] for i in items[:2]] == sorted((p["id"] for p in funds), reverse=True)
    reason = items[0]["reason"]
    assert reason == {
        "code": "topic",
        "tag": "topic:funds",
        "text": "because you follow funds",
        "text_zh": "因为你关注基金",
    }
    assert all(i["reason"]["code"] == "hot" for i in items[2:])
    # the other tabs carry no reason
    latest = (await client.get("/v1/feed?tab=latest", headers=me.headers)).json()["items"]
    assert all(i["reason"] is None for i in latest)
    # built as plain values (not models): exactly PostPublic's shape all the same
    for item in items + latest:
        assert PostPublic.model_validate(item).model_dump(mode="json") == item


async def test_followed_authors_are_mixed_in_with_their_reason(client, users):
    me, friend, fundy = [await users.make(n) for n in ("me", "friend", "fundy")]
    await consent_to_content(client, me)
    read = await new_post(client, fundy, text="基金怎么选")
    await client.get(f"/v1/posts/{read['id']}", headers=me.headers)
    await client.post(f"/v1/users/{friend.id}/follow", headers=me.headers)
    mine = await new_post(client, friend, text="周末爬山")
    items = (await page(client, me))["items"]
    by_id = {i["id"]: i for i in items}
    assert by_id[mine["id"]]["reason"]["code"] == "followed"
    assert by_id[mine["id"]]["reason"]["text"] == "because you follow friend"


async def test_no_more_than_two_in_a_row_from_one_author_or_topic(client, users):
    me, fundy, other, third = [await users.make(n) for n in ("me", "fundy", "other", "third")]
    await consent_to_content(client, me)
    fund_posts = [await new_post(client, fundy, text=f"基金笔记 {i}") for i in range(6)]
    for i in range(2):
        await new_post(client, other, text=f"旅行 {i}")
        await new_post(client, third, text=f"保险常识 {i}")
    for p in fund_posts[:3]:
        await client.get(f"/v1/posts/{p['id']}", headers=me.headers)
    items = (await page(client, me))["items"]
    assert len(items) == 10
    assert foryou.runs_ok(runs(items[:6]))  # while other authors and topics remain
    assert items[0]["reason"]["tag"] == "topic:funds"


async def test_without_consented_tags_the_tab_is_the_hot_order(client, users, rt):
    me, author = await users.make("me"), await users.make("author")
    posts = [await new_post(client, author, text=f"基金 {i}") for i in range(4)]
    for p in posts:  # reads without consent make no tag
        await client.get(f"/v1/posts/{p['id']}", headers=me.headers)
    await client.post(f"/v1/posts/{posts[0]['id']}/like", headers=me.headers)
    items = (await page(client, me))["items"]
    hot = (await client.get("/v1/feed?tab=hot&limit=100", headers=me.headers)).json()["items"]
    assert [i["id"] for i in items] == [i["id"] for i in hot]
    assert {i["reason"]["code"] for i in items} == {"hot"}
    assert items[0]["reason"]["text_zh"] == "热门内容"


async def test_only_suitable_products_and_pages_stitch_together(client, users, rt):
    admin, me, adv = (
        await users.make("admin", roles="admin,user"),
        await users.make("me"),
        await users.make("adv", roles="advisor,user"),
    )
    await catalogue(client, admin)
    await assess(rt, me, "C3")
    await consent_to_content(client, me)
    ok = await new_post(client, adv, text="稳健之选", product={"product_id": "fund-r3"})
    too_risky = await new_post(client, adv, text="激进之选", product={"product_id": "fund-r5"})
    others = [await new_post(client, adv, text=f"基金 {i}") for i in range(5)]
    await client.get(f"/v1/posts/{others[0]['id']}", headers=me.headers)
    everything = (await page(client, me))["items"]
    ids = [i["id"] for i in everything]
    assert ok["id"] in ids and too_risky["id"] not in ids
    assert all(i["product"] is None or i["product"]["available"] for i in everything)
    # pages of 2 give the same order, each post once
    seen, cursor = [], None
    while True:
        got = await page(client, me, cursor, limit=2)
        seen += [i["id"] for i in got["items"]]
        cursor = got["next_cursor"]
        if cursor is None:
            break
    assert seen == ids


def forge(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 !!",
        forge({"i": "p_1"}),  # another tab's cursor
        forge({"o": -1, "t": "2026-01-01T00:00:00+00:00"}),
        forge({"o": 1, "t": "2026-01-01T00:00:00"}),  # naive
        forge({"o": "1", "t": "2026-01-01T00:00:00+00:00"}),
        forge({"o": 10**9, "t": "2026-01-01T00:00:00+00:00"}),
    ],
)
async def test_a_forged_cursor_is_422(client, users, cursor):
    me = await users.make("me")
    r = await client.get("/v1/feed", params={"tab": "for_you", "cursor": cursor}, headers=me.headers)
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "cursor"


async def test_for_you_needs_a_token_and_a_known_tab(client, users):
    me = await users.make("me")
    assert (await client.get("/v1/feed?tab=for_you")).status_code == 401
    assert (await client.get("/v1/feed?tab=for_me", headers=me.headers)).status_code == 422
    far = forge({"o": 5000, "t": "2026-01-01T00:00:00+00:00"})
    r = await client.get("/v1/feed", params={"tab": "for_you", "cursor": far}, headers=me.headers)
    assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}


@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.sampled_from(["funds", "travel", None]), st.floats(0, 5)),
        max_size=30,
    )
)
def test_diversify_keeps_every_item_and_breaks_runs_when_it_can(rows):
    ranked = [
        foryou.Ranked(foryou.Candidate(f"p{i:03}", a, (t,) if t else (), False, None, False), s, t)
        for i, (a, t, s) in enumerate(rows)
    ]
    out = foryou.diversify(ranked)
    assert sorted(r.id for r in out) == sorted(r.id for r in ranked)
    pairs = [(r.candidate.author_id, r.topic) for r in out]
    # a third in a row only when every item left would make one
    for i in range(2, len(pairs)):
        if not foryou.runs_ok(pairs[i - 2 : i + 1]):
            assert all(not foryou.runs_ok([*pairs[i - 2 : i], pairs[j]]) for j in range(i, len(pairs)))


async def test_every_tab_serves_the_current_state_after_edits_deletions_and_moderation(client, users, rt):
    """A reader who has paged every tab sees at once, in every tab: an edited post's new
    text, nothing of a deleted or removed post, and a withdrawn product never as a card
    (left out of "for you"). Nothing a page shows is kept from an earlier request."""
    from content.config import ContentSettings

    rt.settings = rt.settings.model_copy(update={"content": ContentSettings(report_threshold=1)})
    admin = await users.make("admin", roles="admin,user")
    mod = await users.make("mod", roles="moderator,user")
    me, a, b, c, reporter = [await users.make(n) for n in ("me", "a", "b", "c", "reporter")]
    await catalogue(client, admin)
    await assess(rt, me, "C3")
    await consent_to_content(client, me)
    a1 = await new_post(client, a, text="基金 一")
    a2 = await new_post(client, a, text="基金 二")
    b1 = await new_post(client, b, text="基金 三")
    c1 = await new_post(client, c, text="一个产品", product={"product_id": "fund-r3"})
    await client.post(f"/v1/users/{a.id}/follow", headers=me.headers)
    assert (await client.get(f"/v1/posts/{a1['id']}", headers=me.headers)).status_code == 200  # topic:funds
    tabs = ("latest", "following", "hot", "for_you")

    async def items(tab: str) -> dict[str, dict]:
        r = await client.get("/v1/feed", params={"tab": tab, "limit": 100}, headers=me.headers)
        assert r.status_code == 200, r.text
        return {i["id"]: i for i in r.json()["items"]}

    before = {tab: await items(tab) for tab in tabs}
    assert {a1["id"], a2["id"], b1["id"], c1["id"]} <= before["for_you"].keys()

    r = await client.patch(f"/v1/posts/{a2['id']}", json={"text": "基金 二（改）"}, headers=a.headers)
    assert r.status_code == 200, r.text
    assert (await client.delete(f"/v1/posts/{a1['id']}", headers=a.headers)).status_code == 204
    r = await client.post(f"/v1/posts/{b1['id']}/report", json={"reason": "诈骗"}, headers=reporter.headers)
    assert r.status_code == 202
    [item] = (await client.get("/v1/moderation/queue", headers=mod.headers)).json()["items"]
    r = await client.post(
        f"/v1/moderation/items/{item['id']}/decision",
        json={"action": "remove", "reason": "诈骗"},
        headers=mod.headers,
    )
    assert r.status_code == 200, r.text
    r = await client.patch("/v1/admin/products/fund-r3", json={"status": "withdrawn"}, headers=admin.headers)
    assert r.status_code == 200, r.text

    for tab in tabs:
        now = await items(tab)
        assert a1["id"] not in now and b1["id"] not in now, tab
        assert now[a2["id"]]["text"] == "基金 二（改）", tab
        if c1["id"] in now:
            assert tab != "for_you" and now[c1["id"]]["product"]["available"] is False
    assert c1["id"] not in await items("for_you")
