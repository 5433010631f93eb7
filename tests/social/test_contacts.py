from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.people import error_code

# +86 138 0013 8000 in every format an address book holds it.
VARIANTS = [
    "13800138000",
    "138 0013 8000",
    "138-0013-8000",
    "+86 138-0013-8000",
    "+8613800138000",
    "008613800138000",
    "0086 138 0013 8000",
    "(+86) 138 0013 8000",
    " +86 (138) 0013-8000 ",
    "86 138 0013 8000",
]


async def sync(client, person, *phones, names=None):
    contacts = [{"phone": p, "name": (names or {}).get(p)} for p in phones]
    return await client.post("/v1/contacts/sync", json={"contacts": contacts}, headers=person.headers)


@pytest.mark.parametrize("variant", VARIANTS)
async def test_every_format_of_a_number_matches_the_cardholder(client, users, variant):
    target = await users.make("target", phone="+8613800138000")
    me = await users.make("me")
    r = await sync(client, me, variant, names={variant: "Old Friend"})
    assert r.status_code == 200, r.text
    assert r.json()["matches"] == [
        {
            "user_id": target.id,
            "display_name": "target",
            "avatar_url": None,
            "badge": None,
            "contact_name": "Old Friend",
            "is_friend": False,
        }
    ]


async def test_only_discoverable_cardholders_match_and_never_myself(client, users):
    me = await users.make("me", phone="+8613900000001")
    card = await users.make("card", phone="+8613900000002")
    await users.make("nocard", phone="+8613900000003", cardholder=False)
    hidden = await users.make("hidden", phone="+8613900000004")
    r = await client.patch("/v1/me", json={"discoverable": False}, headers=hidden.headers)
    assert r.status_code == 200
    r = await sync(client, me, "13900000001", "13900000002", "13900000003", "13900000004", "13900000005")
    assert [m["user_id"] for m in r.json()["matches"]] == [card.id]


async def test_blocked_users_never_match_either_way(client, users):
    me = await users.make("me", phone="+8613900000011")
    blocked_by_me = await users.make("a", phone="+8613900000012")
    blocks_me = await users.make("b", phone="+8613900000013")
    assert (await client.post(f"/v1/blocks/{blocked_by_me.id}", headers=me.headers)).status_code == 201
    assert (await client.post(f"/v1/blocks/{me.id}", headers=blocks_me.headers)).status_code == 201
    r = await sync(client, me, "13900000012", "13900000013")
    assert r.json()["matches"] == []
    r = await sync(client, blocks_me, "13900000011")
    assert r.json()["matches"] == []
    # After unblocking, a match is possible again.
    assert (await client.delete(f"/v1/blocks/{blocked_by_me.id}", headers=me.headers)).status_code == 204
    r = await sync(client, me, "13900000012")
    assert [m["user_id"] for m in r.json()["matches"]] == [blocked_by_me.id]


async def test_matches_flag_friends_and_invalid_numbers_are_ignored(client, users):
    me = await users.make("me")
    friend = await users.make("friend", phone="+8613900000021")
    await users.friends(me, friend)
    assert (await sync(client, me, "13900000021", "")).status_code == 422  # an empty phone
    r = await sync(client, me, "13900000021", "not a number", "12")
    assert r.status_code == 200
    body = r.json()
    assert body["matches"][0]["is_friend"] is True
    assert body["checked"] == 1


async def test_more_than_2000_numbers_is_422(client, users):
    me = await users.make("me")
    r = await sync(client, me, *[f"+86137{i:08d}" for i in range(2001)])
    assert r.status_code == 422
    assert error_code(r) == "validation_error"


async def test_unmatched_numbers_are_not_stored(client, users, rt):
    from sqlalchemy import text

    from app.auth import phones

    me = await users.make("me")
    unmatched = ["+8613712345678", "+8613787654321"]
    r = await sync(client, me, *unmatched)
    assert r.status_code == 200 and r.json()["matches"] == [] and r.json()["charged"] == 2
    async with rt.sessionmaker() as db:
        assert (await db.execute(text("SELECT count(*) FROM contact_edges"))).scalar() == 0
    # nor anywhere in Redis: the one key the sync wrote is my rate-limit bucket, which holds
    # a token count and a time, and no value anywhere holds a number or its hash
    keys = await rt.redis.keys("*")
    assert [k for k in keys if "contacts" in k] == [rt.keys("contacts", "bucket", me.id)]
    assert set(await rt.redis.hgetall(rt.keys("contacts", "bucket", me.id))) == {"tokens", "at"}
    secrets = set()
    for phone in unmatched:
        secrets |= {phone, phone[3:], phones.phone_hash(phone, rt.settings.phone_hmac_key)}
    for k in keys:
        kind = await rt.redis.type(k)
        if kind == "hash":
            stored = " ".join(f"{f} {v}" for f, v in (await rt.redis.hgetall(k)).items())
        elif kind == "string":
            stored = str(await rt.redis.get(k))
        elif kind in ("set", "zset", "list"):
            stored = " ".join(map(str, await rt.redis.sort(k, alpha=True)))
        else:
            raise AssertionError(f"{k} is a Redis {kind}: check it too")
        assert not any(secret in k or secret in stored for secret in secrets), k


async def test_a_user_cannot_see_another_users_matches(client, users):
    alice = await users.make("alice")
    bob = await users.make("bob")
    carol = await users.make("carol", phone="+8613900000031")
    dave = await users.make("dave", phone="+8613900000032")
    r = await sync(client, alice, "13900000031")
    assert [m["user_id"] for m in r.json()["matches"]] == [carol.id]
    mine = await client.get("/v1/contacts/matches", headers=alice.headers)
    assert [m["user_id"] for m in mine.json()["items"]] == [carol.id]
    theirs = await client.get("/v1/contacts/matches", headers=bob.headers)
    assert theirs.status_code == 200 and theirs.json() == {"items": [], "next_cursor": None}
    # Bob forgetting his matches empties his list and does not touch Alice's.
    r = await sync(client, bob, "13900000031", "13900000032")
    assert sorted(m["user_id"] for m in r.json()["matches"]) == sorted([carol.id, dave.id])
    theirs = await client.get("/v1/contacts/matches", headers=bob.headers)
    assert sorted(m["user_id"] for m in theirs.json()["items"]) == sorted([carol.id, dave.id])
    assert (await client.delete("/v1/contacts/matches", headers=bob.headers)).status_code == 204
    assert (await client.get("/v1/contacts/matches", headers=bob.headers)).json()["items"] == []
    mine = await client.get("/v1/contacts/matches", headers=alice.headers)
    assert [m["user_id"] for m in mine.json()["items"]] == [carol.id]


async def test_enumeration_hits_the_token_bucket(client, users, rt):
    rt.settings.contacts_bucket_capacity = 100
    rt.settings.contacts_bucket_refill_per_day = 100
    me = await users.make("me")
    target = await users.make("target", phone="+8613900000041")
    r = await sync(client, me, "13900000041", *[f"+86137{i:08d}" for i in range(59)])
    assert r.status_code == 200 and r.json()["charged"] == 60
    # Re-syncing a known match costs nothing; 41 new numbers do not fit in the 40 left.
    r = await sync(client, me, "13900000041", *[f"+86136{i:08d}" for i in range(41)])
    assert r.status_code == 429
    assert error_code(r) == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1
    # The refused sync matched nothing and changed nothing; a smaller one still fits.
    r = await sync(client, me, "13900000041", *[f"+86136{i:08d}" for i in range(40)])
    assert r.status_code == 200
    assert [m["user_id"] for m in r.json()["matches"]] == [target.id]
    assert r.json()["charged"] == 40
    # The bucket is per user.
    other = await users.make("other")
    assert (await sync(client, other, *[f"+86135{i:08d}" for i in range(100)])).status_code == 200


async def test_contacts_endpoints_need_a_token(client):
    assert (await client.post("/v1/contacts/sync", json={"contacts": []})).status_code == 401
    assert (await client.get("/v1/contacts/matches")).status_code == 401
    assert (await client.delete("/v1/contacts/matches")).status_code == 401


@settings(max_examples=100, deadline=None)
@given(
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    st.sampled_from(["{n}", "+86{n}", "0086{n}", "86{n}", "+86 {a}-{b}-{c}", "{a} {b} {c}", "({a}) {b}{c}"]),
)
def test_fast_path_agrees_with_phonenumbers(national, template):
    from app.auth import phones
    from social.contacts.service import e164

    raw = template.format(n=national, a=national[:3], b=national[3:7], c=national[7:])
    expected = phones.normalise(raw, "CN")
    got = e164(raw, "CN")
    # Same answer whenever phonenumbers accepts it; the fast path may also accept a number
    # phonenumbers calls invalid (it can match nobody, since users log in with valid ones).
    if expected is not None:
        assert got == expected
    assert got == "+86" + national


def test_hashes_match_the_users_keyed_hash():
    from app.auth import phones
    from social.contacts.schemas import ContactIn
    from social.contacts.service import hash_contacts

    got = hash_contacts([ContactIn(phone="138 0013 8000", name="x")], region="CN", key="k")
    assert got == {phones.phone_hash("+8613800138000", "k"): "x"}
