from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from content.feed.ranking import hot_key, hotness
from tests.content.helpers import block, feed_ids, new_post


def newest_first(*posts: dict) -> list[str]:
    """Post ids in the feed's order: by id, which starts with the creation millisecond
    (posts made within one millisecond may come either way round; see tests/app/test_ids.py)."""
    return sorted((p["id"] for p in posts), reverse=True)


async def test_latest_is_newest_first_and_following_only_my_followees(client, users):
    alice, bob, carol, me = [await users.make(n) for n in ("alice", "bob", "carol", "me")]
    a = await new_post(client, alice, text="a")
    b = await new_post(client, bob, text="b")
    c = await new_post(client, carol, text="c")
    assert await feed_ids(client, me, "latest") == newest_first(a, b, c)
    assert await feed_ids(client, me, "following") == []
    await client.post(f"/v1/users/{alice.id}/follow", headers=me.headers)
    await client.post(f"/v1/users/{carol.id}/follow", headers=me.headers)
    assert await feed_ids(client, me, "following") == newest_first(a, c)


async def test_hot_ranks_by_likes_and_comments_with_decay(client, users, rt):
    author = await users.make("author")
    fans = [await users.make(f"f{i}") for i in range(4)]
    old = await new_post(client, author, text="old but loved")
    for f in fans:
        await client.post(f"/v1/posts/{old['id']}/like", headers=f.headers)
    rt.clock.advance(3600)
    fresh = await new_post(client, author, text="fresh")
    # 5 points an hour older beats 1 point now (half-life 12 h).
    assert await feed_ids(client, fans[0], "hot") == [old["id"], fresh["id"]]
    rt.clock.advance(48 * 3600)
    newest = await new_post(client, author, text="newest")
    # 48 h later, the new post with 1 point beats both (2^-4 · 5 < 1).
    assert (await feed_ids(client, fans[0], "hot"))[0] == newest["id"]


async def test_pgc_is_boosted_in_hot(client, users, rt):
    adv = await users.make("adv", roles="advisor,user")
    alice = await users.make("alice")
    u = await new_post(client, alice, text="ugc")
    rt.clock.advance(60)
    p = await new_post(client, adv, text="pgc")
    rt.clock.advance(60)
    u2 = await new_post(client, alice, text="ugc later")
    ids = await feed_ids(client, alice, "hot")
    assert ids.index(p["id"]) < ids.index(u2["id"]) < ids.index(u["id"])


@pytest.mark.parametrize("tab", ["latest", "hot", "following"])
async def test_cursor_pages_have_no_duplicates_or_gaps_while_posts_arrive(client, users, rt, tab):
    authors = [await users.make(f"a{i}") for i in range(3)]
    reader = await users.make("reader")
    for a in authors:
        await client.post(f"/v1/users/{a.id}/follow", headers=reader.headers)
    for i in range(13):
        rt.clock.advance(60)  # posts a minute apart: "hot" ranks them by time, not by id
        await new_post(client, authors[i % 3], text=f"post {i}")
    snapshot = await feed_ids(client, reader, tab)
    assert len(snapshot) == 13
    seen: list[str] = []
    cursor = None
    n = 0
    while True:
        params = {"tab": tab, "limit": 4} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/feed", params=params, headers=reader.headers)).json()
        seen += [p["id"] for p in page["items"]]
        assert len(seen) <= 13, "pages repeat posts"  # and a cursor that stands still ends here
        rt.clock.advance(60)
        await new_post(client, authors[n % 3], text=f"arriving {n}")  # new posts while paging
        n += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == snapshot


async def test_pending_removed_deleted_muted_and_blocked_content_is_hidden(client, users, rt):
    alice, bob, carol, dave, reader = [
        await users.make(n) for n in ("alice", "bob", "carol", "dave", "reader")
    ]
    mod = await users.make("mod", roles="moderator,user")
    ok = await new_post(client, alice, text="正常内容")
    held = await new_post(client, alice, text="保本保息，快来")
    assert held["status"] == "pending_review"
    gone = await new_post(client, alice, text="删除我")
    await client.delete(f"/v1/posts/{gone['id']}", headers=alice.headers)
    muted = await new_post(client, bob, text="bob says hi")
    blocked = await new_post(client, carol, text="carol says hi")
    visible = await new_post(client, dave, text="dave says hi")
    await client.post(
        f"/v1/moderation/users/{bob.id}/mute", json={"hours": 2, "reason": "spam"}, headers=mod.headers
    )
    await block(rt, reader, carol)
    for who in (alice, bob, carol, dave):
        await client.post(f"/v1/users/{who.id}/follow", headers=reader.headers)
    for tab in ("latest", "hot", "following"):
        assert set(await feed_ids(client, reader, tab)) == {ok["id"], visible["id"]}, tab
    for post in (held, gone, muted, blocked):
        assert (await client.get(f"/v1/posts/{post['id']}", headers=reader.headers)).status_code == 404
    # The author still sees her held post; moderators too.
    assert (await client.get(f"/v1/posts/{held['id']}", headers=alice.headers)).json()[
        "status"
    ] == "pending_review"
    assert (await client.get(f"/v1/posts/{held['id']}", headers=mod.headers)).status_code == 200
    # The muted author sees his own post; once the mute ends, everyone does.
    assert muted["id"] in await feed_ids(client, bob, "latest")
    rt.clock.advance(2 * 3600 + 1)
    assert muted["id"] in await feed_ids(client, reader, "latest")


async def test_following_hides_authors_who_block_me_and_muted_ones_until_the_mute_ends(client, users, rt):
    blocker, noisy, fine, reader = [await users.make(n) for n in ("blocker", "noisy", "fine", "reader")]
    mod = await users.make("mod", roles="moderator,user")
    for who in (blocker, noisy, fine):
        await client.post(f"/v1/users/{who.id}/follow", headers=reader.headers)
    hidden = await new_post(client, blocker, text="you cannot see me")
    loud = [await new_post(client, noisy, text=f"noisy {i}") for i in range(3)]
    calm = [await new_post(client, fine, text=f"fine {i}") for i in range(3)]
    await block(rt, blocker, reader)  # the author blocks the reader: hidden both ways
    await client.post(
        f"/v1/moderation/users/{noisy.id}/mute", json={"hours": 1, "reason": "spam"}, headers=mod.headers
    )
    assert await feed_ids(client, reader, "following") == newest_first(*calm)
    rt.clock.advance(3600 + 1)
    # Pages of two, newest first, across both authors; the blocker's post never shows.
    seen, cursor = [], None
    while True:
        params = {"tab": "following", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/feed", params=params, headers=reader.headers)).json()
        seen += [p["id"] for p in page["items"]]
        assert len(seen) <= 6, "pages repeat posts"  # and a cursor that stands still ends here
        if not (cursor := page["next_cursor"]):
            break
    assert seen == newest_first(*loud, *calm)
    assert hidden["id"] not in seen


async def test_bad_cursor_and_tab_are_422(client, users):
    me = await users.make("me")
    for params in (
        {"tab": "mine"},
        {"cursor": "!!!"},
        {"cursor": "bm90IGpzb24"},
        {"tab": "hot", "cursor": "eyJ4IjoxfQ"},
    ):
        r = await client.get("/v1/feed", params=params, headers=me.headers)
        assert r.status_code == 422, params


async def test_hot_posts_list(client, users):
    alice = await users.make("alice")
    p = await new_post(client, alice)
    r = await client.get("/v1/posts/hot", headers=alice.headers)
    assert r.status_code == 200 and [x["id"] for x in r.json()["items"]] == [p["id"]]


T0 = datetime(2026, 1, 1, tzinfo=UTC)
counts = st.integers(min_value=0, max_value=100_000)
# Half a year at most, twice: 720 half-lives, so a decayed score stays a normal float.
ages = st.floats(min_value=0, max_value=24 * 180, allow_nan=False)


@given(l1=counts, c1=counts, age1=ages, l2=counts, c2=counts, age2=ages, later=ages)
def test_the_stored_key_orders_posts_as_the_decayed_score_does_at_any_time(l1, c1, age1, l2, c2, age2, later):
    now = T0 + timedelta(hours=24 * 365 + later)
    kw = {"pgc": False, "pgc_boost": 1.5, "half_life_h": 12.0}
    t1, t2 = now - timedelta(hours=age1 + later), now - timedelta(hours=age2 + later)
    k1 = hot_key(likes=l1, comments=c1, created_at=t1, **kw)
    k2 = hot_key(likes=l2, comments=c2, created_at=t2, **kw)
    h1 = hotness(likes=l1, comments=c1, created_at=t1, now=now, **kw)
    h2 = hotness(likes=l2, comments=c2, created_at=t2, now=now, **kw)
    assert h1 > 0 and h2 > 0
    # Two scores within float rounding of each other may be stored either way round.
    assume(abs(h1 - h2) > 1e-9 * max(h1, h2))
    assert (k1 > k2) == (h1 > h2)


@given(likes=counts, comments=counts)
def test_more_engagement_is_never_colder(likes, comments):
    kw = {"created_at": T0, "pgc": False, "pgc_boost": 1.5, "half_life_h": 12.0}
    base = hot_key(likes=likes, comments=comments, **kw)
    assert hot_key(likes=likes + 1, comments=comments, **kw) > base
    assert hot_key(likes=likes, comments=comments + 1, **kw) > base
    assert hot_key(likes=likes, comments=comments, **(kw | {"pgc": True})) > base


# -- the page built as plain values (content.posts.service.public_items) -------------------------


async def _as_models(rt, viewer_id: str, tab: str, base: str, limit: int = 100) -> str:
    """The page as ``present`` + ``PostPublic`` render it (the models' JSON), media URLs
    on the request's ``base``."""
    from sqlmodel import col, select

    from app import urls
    from app.auth import service as auth
    from app.pagination import Page
    from content.posts import service as posts
    from content.posts.models import Post, Status
    from content.posts.schemas import PostPublic

    urls._request_base.set(base)
    async with rt.sessionmaker() as db:
        viewer = (await auth.profiles(db, [viewer_id]))[viewer_id]
        q = select(Post).where(Post.status == Status.PUBLISHED).order_by(col(Post.id).desc()).limit(limit)
        rows = list((await db.execute(q)).scalars())
        views = await posts.present(db, rt, rows, viewer)
    return Page[PostPublic](items=[PostPublic.of(v) for v in views]).model_dump_json()


async def test_feed_pages_are_the_models_json_byte_for_byte(client, users, rt):
    """Authors with and without a badge, media, a liked post, own and others' product cards
    (suitable, above the reader's risk profile, withdrawn), as a member, the author and a
    moderator see them: the feed's plain values serialise exactly as the models do."""
    import io

    from PIL import Image

    from tests.content.products_support import assess, catalogue

    admin = await users.make("admin", roles="admin,user")
    adv = await users.make("adv", roles="advisor,user")
    alice, me = await users.make("alice"), await users.make("me")
    mod = await users.make("mod", roles="moderator,user")
    await catalogue(client, admin)
    await assess(rt, me, "C3")
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(out, "JPEG")
    up = await client.post(
        "/v1/media", files={"file": ("a.jpg", out.getvalue(), "image/jpeg")}, headers=alice.headers
    )
    assert up.status_code == 201, up.text
    await new_post(client, alice, text="with a photo", media_ids=[up.json()["id"]])
    liked = await new_post(client, adv, text="基金定投", product={"product_id": "fund-r3"})
    await client.post(f"/v1/posts/{liked['id']}/like", headers=me.headers)
    await new_post(client, adv, text="高风险", product={"product_id": "fund-r5"})
    await new_post(client, alice, text="存款", product={"product_id": "dep-r1"})
    await new_post(client, me, text="my own card", product={"product_id": "fund-r5"})
    r = await client.patch("/v1/admin/products/dep-r1", json={"status": "withdrawn"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    base = str(client.base_url).rstrip("/")
    for who in (me, alice, adv, mod):
        for tab in ("latest", "hot"):
            got = await client.get("/v1/feed", params={"tab": tab, "limit": 100}, headers=who.headers)
            assert got.status_code == 200, got.text
            items = got.json()["items"]
            if tab == "hot":  # another order: the same items as the latest tab's
                items.sort(key=lambda i: i["id"], reverse=True)
                assert json.dumps({"items": items, "next_cursor": None}) == json.dumps(
                    json.loads(await _as_models(rt, who.id, tab, base))
                )
            else:
                assert got.text == await _as_models(rt, who.id, tab, base)
