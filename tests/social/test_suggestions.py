from __future__ import annotations

import math
import random

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from social.friends import suggest


def test_rank_orders_by_adamic_adar_plus_contacts():
    # me — a, b, c.  a has few friends (strong signal), c is a hub.
    edges = [("me", "a"), ("me", "b"), ("me", "c")]
    edges += [("a", "x"), ("b", "x"), ("b", "y"), ("c", "y"), ("c", "z")]
    edges += [("c", f"hub{i}") for i in range(20)]
    g = suggest.ego_graph("me", edges)
    got = suggest.rank(g, "me", my_contacts={"z", "solo"}, has_me={"y"}, exclude=set(), limit=50)
    by_id = {s.user_id: s for s in got}
    # x: mutual a (deg 2) and b (deg 3)
    assert by_id["x"].score == pytest.approx(1 / math.log(2) + 1 / math.log(3), abs=1e-6)
    assert by_id["x"].mutual_friends == 2 and not by_id["x"].in_contacts
    # y: mutual b and c, plus "has me in contacts"
    assert by_id["y"].score == pytest.approx(1 / math.log(3) + 1 / math.log(23) + suggest.HAS_ME, abs=1e-6)
    # z: mutual c only but in my contacts
    assert by_id["z"].in_contacts and by_id["z"].mutual_friends == 1
    # solo: only in my contacts, no mutual friend
    assert by_id["solo"].score == suggest.IN_CONTACTS and by_id["solo"].mutual_friends == 0
    assert [s.user_id for s in got[:4]] == ["x", "y", "z", "solo"]
    # the 20 hub friends tie, ordered by id
    tail = [s.user_id for s in got[4:]]
    assert tail == sorted(tail) and len(tail) == 20
    assert "me" not in by_id and not {"a", "b", "c"} & set(by_id)


def test_rank_excludes_and_limits():
    g = suggest.ego_graph("me", [("me", "a"), ("a", "x"), ("a", "y")])
    got = suggest.rank(g, "me", my_contacts={"a"}, has_me=set(), exclude={"x"}, limit=5)
    assert [s.user_id for s in got] == ["y"]  # a is a friend, x excluded
    assert suggest.rank(g, "me", my_contacts=set(), has_me=set(), exclude=set(), limit=1)[0].user_id == "x"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 25), st.integers(0, 25)), max_size=120))
def test_rank_agrees_with_networkx_adamic_adar(pairs):
    edges = [(f"u{a}", f"u{b}") for a, b in pairs if a != b]
    full = nx.Graph(edges)
    full.add_node("u0")
    friends = set(full["u0"])
    ego = [(a, b) for a, b in full.edges if a in friends or b in friends or "u0" in (a, b)]
    g = suggest.ego_graph("u0", ego)
    got = suggest.rank(g, "u0", my_contacts=set(), has_me=set(), exclude=set(), limit=1000)
    expected = {
        v: s
        for _, v, s in nx.adamic_adar_index(full, [("u0", v) for v in full if v != "u0" and v not in friends])
        if s > 0
    }
    assert {s.user_id: s.score for s in got} == pytest.approx(expected, abs=1e-5)
    assert [s.score for s in got] == sorted((s.score for s in got), reverse=True)


async def test_suggestions_endpoint_on_a_constructed_graph(client, users, rt):
    me = await users.make("me")
    a, b, c = [await users.make(n) for n in "abc"]
    x = await users.make("x")  # friend of a and b
    y = await users.make("y")  # friend of c
    z = await users.make("z", phone="+8613900000051")  # friend of c, in my contacts
    hidden = await users.make("hidden")  # friend of a and b but not discoverable
    pending = await users.make("pending")  # friend of a, with a pending request
    blocked = await users.make("blocked")  # friend of a, blocked by me
    for f in (a, b, c):
        await users.friends(me, f)
    for p, q in [(a, x), (b, x), (c, y), (c, z), (a, hidden), (b, hidden), (a, pending), (a, blocked)]:
        await users.friends(p, q)
    await client.patch("/v1/me", json={"discoverable": False}, headers=hidden.headers)
    await client.post("/v1/friends/requests", json={"user_id": pending.id}, headers=me.headers)
    await client.post(f"/v1/blocks/{me.id}", headers=blocked.headers)
    await client.post("/v1/contacts/sync", json={"contacts": [{"phone": "13900000051"}]}, headers=me.headers)

    r = await client.get("/v1/friends/suggestions", headers=me.headers)
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    got = r.json()["items"]
    # z: 1/ln 3 (c) + 1 (contacts) = 1.91; x: 1/ln 5 (a) + 1/ln 3 (b) = 1.53; y: 1/ln 3 = 0.91
    assert [s["display_name"] for s in got] == ["z", "x", "y"]
    assert [s["user_id"] for s in got] == [z.id, x.id, y.id]
    assert got[0]["reasons"] == [{"kind": "mutual_friends", "count": 1}, {"kind": "in_contacts"}]
    assert got[1]["reasons"] == [{"kind": "mutual_friends", "count": 2}]
    assert got[2]["reasons"] == [{"kind": "mutual_friends", "count": 1}]
    assert [s["score"] for s in got] == pytest.approx(
        [1 / math.log(3) + 1, 1 / math.log(5) + 1 / math.log(3), 1 / math.log(3)], abs=1e-5
    )
    # limit, and another user's view is their own
    assert len((await client.get("/v1/friends/suggestions?limit=1", headers=me.headers)).json()["items"]) == 1
    theirs = (await client.get("/v1/friends/suggestions", headers=x.headers)).json()["items"]
    assert me.id in [s["user_id"] for s in theirs] and x.id not in [s["user_id"] for s in theirs]
    assert (await client.get("/v1/friends/suggestions?limit=0", headers=me.headers)).status_code == 422


async def _store_graph(rt, *, seed: int, n: int, p: float, hidden_p: float) -> dict:
    """A random graph with contacts, blocks, requests and hidden users, written as rows."""
    from app.auth.models import User
    from social.contacts.models import ContactEdge
    from social.friends.models import Block, FriendRequest, Friendship

    rng = random.Random(seed)
    ids = [f"u_eq{seed:02d}_{i:03d}" for i in range(n)]
    me = ids[0]
    g = nx.gnp_random_graph(n, p, seed=seed)
    g = nx.relabel_nodes(g, dict(enumerate(ids)))
    others = ids[1:]
    hidden = {u for u in others if rng.random() < hidden_p}
    mine = set(rng.sample(others, 4))
    has_me = set(rng.sample(others, 4))
    blocked = set(rng.sample(others, 2))  # one blocked by me, one who blocked me
    pending = set(rng.sample(others, 2))  # one asked by me, one who asked me
    declined = rng.choice(others)  # a decided request excludes nobody
    now = rt.clock.now()
    async with rt.sessionmaker() as db, db.begin():
        db.add_all(
            User(
                id=u,
                phone_hash=f"h{u}",
                phone_masked="+86 170****0000",
                display_name=u,
                discoverable=u not in hidden,
                created_at=now,
            )
            for u in ids
        )
        await db.flush()
        db.add_all(Friendship(user_lo=min(a, b), user_hi=max(a, b), created_at=now) for a, b in g.edges)
        db.add_all(ContactEdge(owner_id=me, contact_id=u, created_at=now) for u in mine)
        db.add_all(ContactEdge(owner_id=u, contact_id=me, created_at=now) for u in has_me)
        b1, b2 = sorted(blocked)
        db.add(Block(blocker_id=me, blocked_id=b1, created_at=now))
        db.add(Block(blocker_id=b2, blocked_id=me, created_at=now))
        p1, p2 = sorted(pending)
        for i, (a, b, status) in enumerate(
            [(me, p1, "pending"), (p2, me, "pending"), (me, declined, "declined")]
        ):
            key = f"{min(a, b)}|{max(a, b)}" if status == "pending" else None
            db.add(
                FriendRequest(
                    id=f"fr_eq{seed:02d}{i}",
                    from_id=a,
                    to_id=b,
                    status=status,
                    pending_key=key,
                    created_at=now,
                )
            )
    return {"g": g, "me": me, "hidden": hidden, "mine": mine, "has_me": has_me, "skip": blocked | pending}


@pytest.mark.parametrize(
    ("seed", "n", "p", "hidden_p", "limit"),
    [
        (1, 30, 0.2, 0.1, 50),
        (2, 40, 0.15, 0.0, 50),
        (3, 40, 0.25, 0.2, 7),
        (4, 60, 0.1, 0.1, 50),
        (5, 50, 0.3, 0.85, 3),
        (8, 200, 0.06, 0.9, 20),  # most of the first 80 are hidden: the query looks further
        (6, 25, 0.4, 0.0, 50),  # dense: many equal scores, ordered by id
    ],
)
async def test_sql_ranking_equals_networkx_adamic_adar(rt, seed, n, p, hidden_p, limit):
    from social.friends.schemas import SuggestionPublic
    from social.friends.suggestions import suggestions

    case = await _store_graph(rt, seed=seed, n=n, p=p, hidden_p=hidden_p)
    g, me = case["g"], case["me"]
    friends = set(g[me])
    skip = friends | {me} | case["skip"] | case["hidden"]
    pool = [v for v in g if v not in skip]
    aa = {v: s for _, v, s in nx.adamic_adar_index(g, [(me, v) for v in pool])}
    mutual = {v: len(list(nx.common_neighbors(g, me, v))) for v in pool}
    shown = {v for v in pool if mutual[v] or v in case["mine"] or v in case["has_me"]}
    score = {
        v: aa[v] + suggest.IN_CONTACTS * (v in case["mine"]) + suggest.HAS_ME * (v in case["has_me"])
        for v in shown
    }
    expected = sorted(shown, key=lambda v: (-round(score[v], 6), v))[:limit]
    assert len(expected) == min(limit, len(shown)) >= 3, "the graph gives me suggestions to rank"

    for _ in range(2):  # ranked in SQL, then served from the cached head
        async with rt.sessionmaker() as db:
            got = await suggestions(db, rt, user_id=me, limit=limit)
        assert [s.user_id for s in got] == expected
        for s in got:
            assert s.score == pytest.approx(score[s.user_id], abs=1e-6)
            reasons = [{"kind": "mutual_friends", "count": mutual[s.user_id]}] if mutual[s.user_id] else []
            reasons += [{"kind": "in_contacts"}] if s.user_id in case["mine"] else []
            assert [r.model_dump() for r in SuggestionPublic.of(s).reasons] == reasons


async def test_cached_suggestions_apply_exclusions_at_once(client, users, rt):
    me, a, b = [await users.make(n) for n in ("me", "a", "b")]
    x, y, z = [await users.make(n) for n in "xyz"]
    await users.friends(me, a)
    await users.friends(me, b)
    for p, q in [(a, x), (b, x), (a, y), (b, z)]:
        await users.friends(p, q)

    async def shown(who=me):
        r = await client.get("/v1/friends/suggestions", headers=who.headers)
        assert r.status_code == 200, r.text
        return [s["user_id"] for s in r.json()["items"]]

    # x: 2/ln 3 (a and b); y and z: 1/ln 3 each, equal scores ordered by user id
    assert await shown() == [x.id, *sorted([y.id, z.id])]
    # each change is seen on the next call, though the ranking is cached
    await client.post("/v1/friends/requests", json={"user_id": x.id}, headers=me.headers)
    assert await shown() == sorted([y.id, z.id])
    await client.post(f"/v1/blocks/{me.id}", headers=y.headers)
    assert await shown() == [z.id]
    await client.patch("/v1/me", json={"discoverable": False}, headers=z.headers)
    assert await shown() == []
    await client.patch("/v1/me", json={"discoverable": True}, headers=z.headers)
    assert await shown() == [z.id]
    # my own new friend's friends and my new contacts: my fingerprint changed
    c, w = await users.make("c"), await users.make("w", phone="+8613900000077")
    await users.friends(me, c)
    await users.friends(c, w)
    assert await shown() == [w.id, z.id]  # w: 1/ln 2 (c); z: 1/ln 3 (b)
    solo = await users.make("solo", phone="+8613900000078")
    await client.post("/v1/contacts/sync", json={"contacts": [{"phone": "13900000078"}]}, headers=me.headers)
    assert await shown() == [w.id, solo.id, z.id]  # solo: 1.0 (in my contacts)


async def test_a_friends_new_friend_shows_once_the_cache_time_passed(client, users, rt):
    me, a, b, x, late = [await users.make(n) for n in ("me", "a", "b", "x", "late")]
    await users.friends(me, a)
    await users.friends(me, b)
    await users.friends(a, x)

    async def shown():
        r = await client.get("/v1/friends/suggestions", headers=me.headers)
        return [s["user_id"] for s in r.json()["items"]]

    assert await shown() == [x.id]
    await users.friends(b, late)  # two hops away: my fingerprint is unchanged
    assert await shown() == [x.id]
    rt.clock.advance(rt.settings.suggestions_cache_s + 1)
    assert await shown() == sorted([x.id, late.id])  # equal scores (1/ln 2): by user id
