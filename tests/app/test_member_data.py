"""Where tags come from (content, games), what an advisor sees, and a member's data:
export and erasure (issue 17, items 2 and 7)."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.db import transaction
from app.ledger import service as ledger
from tests.app.test_profile import consent, push, tags, watched
from tests.content.helpers import new_post
from tests.games.helpers import event as spending_event
from tests.games.helpers import spend
from tests.support.people import error_code


async def test_content_and_game_activity_feed_tags_only_with_consent(client, rt, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    post = await new_post(client, alice, text="基金定投三年的心得")
    r = await client.get(f"/v1/posts/{post['id']}", headers=bob.headers)
    assert r.status_code == 200
    await client.post("/v1/farm/quiz/answer", json={"choice": 0}, headers=bob.headers)
    assert await tags(client, bob) == {} and await tags(client, alice) == {}  # nobody consented
    await consent(client, bob, content=True)
    for _ in range(2):
        await client.get(f"/v1/posts/{post['id']}", headers=bob.headers)
    await client.post(f"/v1/posts/{post['id']}/like", headers=bob.headers)
    held = await tags(client, bob)
    whys = sorted(s["why"] for s in held["topic:funds"]["sources"])
    assert whys == ["you liked 1 posts about funds", "you read 2 posts about funds"]
    assert await tags(client, alice) == {}  # the author's consent is hers to give
    await consent(client, alice, content=True, games=True)
    await new_post(client, alice, text="信用卡还款日别忘了")
    wu = await users.make("wu")
    await consent(client, wu, games=True)
    r = await client.post("/v1/farm/quiz/answer", json={"choice": 0}, headers=wu.headers)
    assert r.status_code == 200, r.text
    assert set(await tags(client, alice)) == {"topic:credit_cards"}
    assert (await tags(client, wu))["game:farm_quiz"]["sources"][0][
        "why"
    ] == "you answered the farm quiz 1 times"


async def test_an_advisor_sees_only_the_tags_their_client_shares(client, rt, users):
    from social.advisors import service as advisors

    adv, other = (
        await users.make("刘洋", roles="advisor,user"),
        await users.make("陈晨", roles="advisor,user"),
    )
    li = await users.make("li")
    async with rt.sessionmaker() as db:
        await advisors.assign(db, rt, client_id=li.id, advisor_id=adv.id)
    await consent(client, li, video="share", card=True)
    await push(client, rt, [watched(li.id)])
    await spend(client, rt, [spending_event(li.id, "transit", 300, at=rt.clock.now())])
    assert set(await tags(client, li)) == {"series:spy_family", "genre:anime", "spend:transit"}
    url = f"/v1/advisor/clients/{li.id}/profile"
    r = await client.get(url, headers=adv.headers)
    assert r.status_code == 200
    assert {t["tag"] for t in r.json()["tags"]} == {"series:spy_family", "genre:anime"}
    assert (await client.get(url, headers=other.headers)).status_code == 404  # not their client
    assert (await client.get(url, headers=li.headers)).status_code == 403  # not an advisor
    assert (await client.get(url)).status_code == 401
    await consent(client, li, video=True)  # still consented, no longer shared
    assert (await client.get(url, headers=adv.headers)).json()["tags"] == []


async def _chat(client, a, b) -> str:
    r = await client.post("/v1/conversations", json={"member_ids": [b.id]}, headers=a.headers)
    assert r.status_code in (200, 201), r.text
    cid = r.json()["id"]
    for who, text in ((a, "周末去爬山吗"), (b, "好呀，bob的秘密回答"), (a, "那就周六见")):
        r = await client.post(
            f"/v1/conversations/{cid}/messages",
            json={"cid": f"c-{text}", "body": {"kind": "text", "text": text}},
            headers=who.headers,
        )
        assert r.status_code == 200, r.text
    return cid


async def _transfer(client, a, b, amount: int) -> None:
    r = await client.post(
        "/v1/transfers",
        json={"to_user_id": b.id, "amount_fen": amount},
        headers={**a.headers, "Idempotency-Key": f"t-{a.id}-{amount}"},
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/v1/transfers/{r.json()['id']}/accept", headers={**b.headers, "Idempotency-Key": "accept"}
    )
    assert r.status_code == 200, r.text


async def test_export_holds_what_was_stored_and_nothing_of_other_members(client, rt, users):
    alice, bob = await users.make("alice", balance_fen=10_000), await users.make("bob", balance_fen=5_000)
    await users.friends(alice, bob)
    cid = await _chat(client, alice, bob)
    await _transfer(client, alice, bob, 1_500)
    for p in (alice, bob):
        await consent(client, p, video=True, content=True)
    await push(
        client,
        rt,
        [watched(alice.id, event_id="alice-ev"), watched(bob.id, event_id="bob-ev", series="Bob Show")],
    )
    post = await new_post(client, alice, text="聊聊基金")
    await new_post(client, bob, text="bob的帖子")

    r = await client.get("/v1/me/export", headers=alice.headers)
    assert r.status_code == 200
    assert r.headers["content-disposition"] == f'attachment; filename="quanzi-export-{alice.id}.json"'
    data = r.json()
    assert data["user_id"] == alice.id and data["account"]["account"]["id"] == alice.id
    assert data["account"]["cards"] and "phone_hash" not in json.dumps(data)
    assert [e["event_id"] for e in data["profile"]["scenario_events"]] == ["alice-ev"]
    assert {t["tag"] for t in data["profile"]["tags"]} == {"series:spy_family", "genre:anime", "topic:funds"}
    assert {c["scenario"] for c in data["profile"]["consents"] if c["granted"]} == {"video", "content"}
    sent = data["chat"]["messages_sent"]
    assert [m["body"]["text"] for m in sent if m["kind"] == "text"] == ["周末去爬山吗", "那就周六见"]
    assert [m["kind"] for m in sent if m["kind"] != "text"] == ["transfer"]
    assert [c["id"] for c in data["chat"]["conversations"]] == [cid]
    assert [p["id"] for p in data["content"]["posts"]] == [post["id"]]
    assert [f["user_id"] for f in data["friends"]["friends"]] == [bob.id]
    lines = data["wallet"]["ledger_lines"]
    assert data["wallet"]["balance_fen"] == 8_500 == lines[-1]["balance_after_fen"]
    assert sum(line["amount_fen"] for line in lines) == 8_500
    assert "forest" in data and "farm" in data
    dump = json.dumps(data, ensure_ascii=False)
    for theirs in ("bob的秘密回答", "bob-ev", "bob_show", "bob的帖子", "wallet:" + bob.id):
        assert theirs not in dump, theirs
    assert (await client.get("/v1/me/export")).status_code == 401


async def test_erasure_keeps_the_ledger_balanced_and_others_chats_readable(client, rt, users):
    alice, bob = await users.make("alice", balance_fen=10_000), await users.make("bob", balance_fen=5_000)
    await users.friends(alice, bob)
    cid = await _chat(client, alice, bob)
    await _transfer(client, alice, bob, 1_500)
    await consent(client, alice, video=True)
    await push(client, rt, [watched(alice.id)])
    post = await new_post(client, alice, text="聊聊基金")
    async with rt.sessionmaker() as db:
        settlement_before = await ledger.balance(db, ledger.SETTLEMENT)

    r = await client.delete("/v1/me", headers=alice.headers)
    assert r.status_code == 204
    # alice is gone: her token, her profile, her post, her friendship
    for path in ("/v1/me", "/v1/me/profile", "/v1/wallet"):
        r = await client.get(path, headers=alice.headers)
        assert r.status_code == 401 and error_code(r) == "unauthenticated"
    assert (await client.delete("/v1/me", headers=alice.headers)).status_code == 401
    assert (await client.get(f"/v1/posts/{post['id']}", headers=bob.headers)).status_code == 404
    assert (await client.get("/v1/friends", headers=bob.headers)).json()["items"] == []
    # bob still reads the whole conversation, alice's words under a pseudonym
    r = await client.get(f"/v1/conversations/{cid}/messages", headers=bob.headers)
    assert r.status_code == 200
    texts = [m["body"].get("text") for m in r.json()["items"] if m["kind"] == "text"]
    assert texts == ["周末去爬山吗", "好呀，bob的秘密回答", "那就周六见"]
    r = await client.get("/v1/conversations", headers=bob.headers)
    peer = r.json()["items"][0]["peer"]
    assert peer["display_name"] == "已注销用户"
    # the money: bob's history intact, alice's balance went back to the bank, Σ = 0
    bob_lines = (await client.get("/v1/wallet/statement", headers=bob.headers)).json()["items"]
    assert [line["amount_fen"] for line in bob_lines][:1] == [1_500]
    async with rt.sessionmaker() as db:
        assert (await ledger.audit(db)).ok
        assert await ledger.balance(db, ledger.wallet_account(alice.id)) == 0
        assert (
            await ledger.balance(db, ledger.SETTLEMENT) == settlement_before + 8_500
        )  # paid back to the bank
        from app.auth.models import User
        from app.profile.models import Consent, ScenarioEvent, TagEvidence

        user = await db.get(User, alice.id)
        assert user is not None and user.erased_at is not None and user.phone_hash == f"erased:{alice.id}"
        for model in (Consent, ScenarioEvent, TagEvidence):
            n = await db.scalar(select(func.count()).select_from(model).where(model.user_id == alice.id))
            assert n == 0, model
    # signing in again with the same phone is a new, empty account
    from app.auth import service as auth

    async with rt.sessionmaker() as db:
        again = await auth.get_or_create_user(db, rt, e164=alice.phone)
    assert again.id != alice.id


async def test_erasure_of_one_member_leaves_others_profiles(client, rt, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    for p in (alice, bob):
        await consent(client, p, video=True)
    await push(client, rt, [watched(alice.id), watched(bob.id)])
    assert (await client.delete("/v1/me", headers=alice.headers)).status_code == 204
    assert set(await tags(client, bob)) == {"series:spy_family", "genre:anime"}
    async with rt.sessionmaker() as db, transaction(db):
        assert (await ledger.audit(db)).ok
