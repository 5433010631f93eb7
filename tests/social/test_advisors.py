from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.db import transaction
from social.advisors import matching
from social.chat import service as chat


def test_matching_respects_capacity_and_prefers_fit():
    advisors = [
        matching.Advisor("a1", room=2, regions=frozenset({"shanghai"}), languages=frozenset({"zh"})),
        matching.Advisor("a2", room=1, regions=frozenset({"beijing"}), languages=frozenset({"en"})),
    ]
    clients = [
        matching.Client("c1", region="beijing", language="en"),
        matching.Client("c2", region="shanghai", language="zh"),
        matching.Client("c3", region="shanghai", language="zh"),
        matching.Client("c4", region="shanghai", language="zh"),
    ]
    got = matching.assign(clients, advisors)
    assert got["c1"] == ("a2", 1 + matching.REGION + matching.LANGUAGE)
    assert len(got) == 3  # total room is 3
    assert sum(1 for a, _ in got.values() if a == "a1") == 2


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.sampled_from(["sh", "bj", "gz", None]), min_size=0, max_size=25),
    st.lists(st.tuples(st.integers(0, 6), st.sampled_from(["sh", "bj", "gz"])), min_size=1, max_size=5),
    st.randoms(use_true_random=False),
)
def test_matching_is_maximal_within_capacity_and_stable(regions, specs, rng):
    clients = [matching.Client(f"c{i:02d}", region=r) for i, r in enumerate(regions)]
    advisors = [matching.Advisor(f"a{i}", room=n, regions=frozenset({r})) for i, (n, r) in enumerate(specs)]
    got = matching.assign(clients, advisors)
    room = {a.id: a.room for a in advisors}
    for aid in room:
        assert sum(1 for a, _ in got.values() if a == aid) <= room[aid]
    assert len(got) == min(len(clients), sum(room.values()))
    shuffled_c, shuffled_a = clients[:], advisors[:]
    rng.shuffle(shuffled_c)
    rng.shuffle(shuffled_a)
    assert matching.assign(shuffled_c, shuffled_a) == got


def test_matching_total_fit_is_optimal_on_a_small_case():
    # Greedy by client id would give c1 the only Shanghai slot; the optimum gives it to c2.
    advisors = [
        matching.Advisor("sh", room=1, regions=frozenset({"sh"}), languages=frozenset({"zh"})),
        matching.Advisor("any", room=1),
    ]
    clients = [matching.Client("c1", region="sh"), matching.Client("c2", region="sh", language="zh")]
    got = matching.assign(clients, advisors)
    assert got["c2"][0] == "sh" and got["c1"][0] == "any"


async def test_admin_matches_and_client_opens_the_chat(client, users, rt):
    admin = await users.make("admin", roles="admin,user")
    adv = await users.make("adv", roles="advisor,user")
    adv2 = await users.make("adv2", roles="advisor,user")
    clients = [await users.make(f"client{i}") for i in range(5)]
    await users.make("no-card", cardholder=False)
    for a in (adv, adv2):
        r = await client.put(f"/v1/admin/advisors/{a.id}", json={"capacity": 2}, headers=admin.headers)
        assert r.status_code == 200, r.text
    # before matching, nobody has an advisor
    r = await client.get("/v1/me/advisor", headers=clients[0].headers)
    assert r.status_code == 404
    r = await client.post("/v1/admin/advisors/match", headers=admin.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["assigned"] == 4 and sorted(body["by_advisor"].values()) == [2, 2]
    assert body["unassigned"] == 2  # one client and the admin (a cardholder) wait for room
    # stable: a second run changes nothing
    assert (await client.post("/v1/admin/advisors/match", headers=admin.headers)).json()["assigned"] == 0
    mine = (await client.get("/v1/advisor/clients", headers=adv.headers)).json()["items"]
    assert len(mine) == 2
    theirs = (await client.get("/v1/advisor/clients", headers=adv2.headers)).json()["items"]
    assert not {c["user_id"] for c in mine} & {c["user_id"] for c in theirs}
    # a client of adv opens the chat with their advisor although they are not friends
    me = next(p for p in clients if p.id == mine[0]["user_id"])
    r = await client.get("/v1/me/advisor", headers=me.headers)
    assert r.status_code == 200
    assert r.json()["advisor"]["id"] == adv.id
    conv_id = r.json()["conversation_id"]
    assert (await client.get("/v1/me/advisor", headers=me.headers)).json()["conversation_id"] == conv_id
    async with rt.sessionmaker() as db, transaction(db):
        for sender in (me.id, me.id, adv.id):
            await chat.post_message(
                db, rt, conversation_id=conv_id, sender_id=sender, kind="text", body={"text": "hi"}
            )
    summary = next(
        c
        for c in (await client.get("/v1/advisor/clients", headers=adv.headers)).json()["items"]
        if c["user_id"] == me.id
    )
    assert summary["messages"]["total"] == 3
    assert summary["messages"]["from_client"] == 2 and summary["messages"]["from_advisor"] == 1
    assert summary["conversation_id"] == conv_id and summary["last_active_at"] is not None
    detail = await client.get(f"/v1/advisor/clients/{me.id}", headers=adv.headers)
    assert detail.status_code == 200
    assert [m["seq"] for m in detail.json()["recent_messages"]] == [1, 2, 3]
    # the other advisor, a client and a stranger see none of it
    assert (await client.get(f"/v1/advisor/clients/{me.id}", headers=adv2.headers)).status_code == 404
    assert (await client.get(f"/v1/advisor/clients/{me.id}", headers=me.headers)).status_code == 403
    assert (await client.get("/v1/advisor/clients", headers=me.headers)).status_code == 403


async def test_advisor_admin_endpoints_need_the_role(client, users):
    user = await users.make("user")
    adv = await users.make("adv", roles="advisor,user")
    for who in (user, adv):
        assert (await client.post("/v1/admin/advisors/match", headers=who.headers)).status_code == 403
        r = await client.put(f"/v1/admin/advisors/{adv.id}", json={"capacity": 5}, headers=who.headers)
        assert r.status_code == 403
    admin = await users.make("admin", roles="admin,user")
    r = await client.put(f"/v1/admin/advisors/{user.id}", json={"capacity": 5}, headers=admin.headers)
    assert r.status_code == 404  # not an advisor
    r = await client.put(f"/v1/admin/advisors/{adv.id}", json={"capacity": -1}, headers=admin.headers)
    assert r.status_code == 422


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/v1/me/advisor"),
        ("GET", "/v1/advisor/clients"),
        ("GET", "/v1/advisor/clients/x"),
        ("POST", "/v1/admin/advisors/match"),
        ("PUT", "/v1/admin/advisors/x"),
    ],
)
async def test_advisor_endpoints_need_a_token(client, method, path):
    r = await client.request(method, path, json={"capacity": 1} if method == "PUT" else None)
    assert r.status_code == 401
