from __future__ import annotations

import math

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from social.friends import suggest

pytestmark = pytest.mark.anyio


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
    got = r.json()
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
    assert len((await client.get("/v1/friends/suggestions?limit=1", headers=me.headers)).json()) == 1
    theirs = (await client.get("/v1/friends/suggestions", headers=x.headers)).json()
    assert me.id in [s["user_id"] for s in theirs] and x.id not in [s["user_id"] for s in theirs]
    assert (await client.get("/v1/friends/suggestions?limit=0", headers=me.headers)).status_code == 422
