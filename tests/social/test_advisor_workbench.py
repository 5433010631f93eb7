"""What the advisor workbench needs from the advisors service, over REST: finding clients,
notes, the inbox, product cards, activity, and the admin's view of capacity and assignments."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.auth import service as auth
from app.db import transaction
from social.advisors import service as advisors
from social.chat import service as chat
from tests.content.products_support import catalogue
from tests.support.people import error_code


async def _book(users, rt):
    adv = await users.make("刘洋", roles="advisor,user")
    other = await users.make("陈晨", roles="advisor,user")
    people = {}
    for name, region, risk in [
        ("李娜", "上海", "C3"),
        ("王伟", "北京", "C2"),
        ("张敏", "上海", "C4"),
        ("Wang Fang", "深圳", "C3"),
    ]:
        p = await users.make(name)
        async with rt.sessionmaker() as db:
            await auth.set_bank_profile(db, user_id=p.id, region=region, risk_profile=risk)
            await advisors.assign(db, rt, client_id=p.id, advisor_id=adv.id)
        people[name] = p
    stranger = await users.make("赵六")
    async with rt.sessionmaker() as db:
        await advisors.assign(db, rt, client_id=stranger.id, advisor_id=other.id)
    return adv, other, people, stranger


async def _names(client, adv, **params) -> list[str]:
    r = await client.get("/v1/advisor/clients", params=params, headers=adv.headers)
    assert r.status_code == 200, r.text
    return [c["display_name"] for c in r.json()["items"]]


async def test_clients_search_filter_and_sort(client, users, rt):
    adv, _, p, _ = await _book(users, rt)
    assert sorted(await _names(client, adv)) == sorted(p)
    assert await _names(client, adv, q="李") == ["李娜"]
    assert await _names(client, adv, q="wang") == ["Wang Fang"]  # case-insensitive
    assert await _names(client, adv, q=p["王伟"].phone[-4:]) == ["王伟"]  # last four digits
    assert await _names(client, adv, q=p["张敏"].phone) == ["张敏"]  # the whole number
    assert await _names(client, adv, q="赵六") == []  # another advisor's client
    assert await _names(client, adv, q="%") == []  # LIKE wildcards are literal
    assert sorted(await _names(client, adv, region="上海")) == ["张敏", "李娜"]
    assert sorted(await _names(client, adv, risk_profile="C3")) == ["Wang Fang", "李娜"]
    assert await _names(client, adv, risk_profile="C3", region="上海") == ["李娜"]
    assert await _names(client, adv, sort="name") == sorted(p)

    # Last activity: the client's own latest message to me, or seen in the app, latest first.
    async with rt.sessionmaker() as db:
        for name in ("张敏", "王伟"):
            conv = await advisors.client_conversation(db, rt, advisor_id=adv.id, client_id=p[name].id)
            async with transaction(db):
                await chat.post_message(
                    db, rt, conversation_id=conv, sender_id=p[name].id, kind="text", body={"text": "在吗"}
                )
            await rt.advance_clock(60)
        conv = await advisors.client_conversation(db, rt, advisor_id=adv.id, client_id=p["李娜"].id)
        async with transaction(db):  # my own message is not the client's activity
            await chat.post_message(
                db, rt, conversation_id=conv, sender_id=adv.id, kind="text", body={"text": "您好"}
            )
    names = await _names(client, adv, sort="last_active")
    assert names[:2] == ["王伟", "张敏"] and set(names[2:]) == {"李娜", "Wang Fang"}


async def test_sorted_pages_walk_every_client_once(client, users, rt):
    adv, _, p, _ = await _book(users, rt)
    seen, cursor = [], None
    while True:
        params = {"sort": "name", "limit": 3, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/v1/advisor/clients", params=params, headers=adv.headers)
        body = r.json()
        seen += [c["display_name"] for c in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(p)
    r = await client.get("/v1/advisor/clients", params={"sort": "nope"}, headers=adv.headers)
    assert r.status_code == 422
    r = await client.get(
        "/v1/advisor/clients", params={"sort": "name", "cursor": "bad!"}, headers=adv.headers
    )
    assert r.status_code == 422


async def test_notes_are_for_the_clients_advisors_only(client, users, rt):
    adv, other, p, _ = await _book(users, rt)
    lina = p["李娜"]
    url = f"/v1/advisor/clients/{lina.id}/notes"
    r = await client.post(url, json={"text": "偏好稳健型产品"}, headers=adv.headers)
    assert r.status_code == 201 and r.json()["advisor_name"] == "刘洋"
    assert (await client.post(url, json={"text": "   "}, headers=adv.headers)).status_code == 422
    assert (await client.post(url, json={"text": "x" * 2001}, headers=adv.headers)).status_code == 422
    r = await client.get(url, headers=adv.headers)
    assert [n["text"] for n in r.json()["items"]] == ["偏好稳健型产品"]
    # another advisor, the client themself, nobody
    assert (await client.get(url, headers=other.headers)).status_code == 404
    assert (await client.post(url, json={"text": "x"}, headers=other.headers)).status_code == 404
    assert (await client.get(url, headers=lina.headers)).status_code == 403
    assert (await client.get(url)).status_code == 401
    # after a reassignment, the new advisor reads the notes (and the old one no longer can)
    async with rt.sessionmaker() as db:
        await advisors.reassign(db, rt, client_id=lina.id, advisor_id=other.id)
    assert [n["text"] for n in (await client.get(url, headers=other.headers)).json()["items"]] == [
        "偏好稳健型产品"
    ]
    assert (await client.get(url, headers=adv.headers)).status_code == 404


async def test_inbox_counts_unread_client_messages(client, users, rt):
    adv, _, p, _ = await _book(users, rt)
    assert (await client.get("/v1/advisor/inbox", headers=adv.headers)).json() == {
        "items": [],
        "total_unread": 0,
    }
    async with rt.sessionmaker() as db:
        conv = await advisors.client_conversation(db, rt, advisor_id=adv.id, client_id=p["王伟"].id)
        async with transaction(db):
            for text in ("在吗", "想问下基金"):
                await chat.post_message(
                    db, rt, conversation_id=conv, sender_id=p["王伟"].id, kind="text", body={"text": text}
                )
    r = await client.get("/v1/advisor/inbox", headers=adv.headers)
    assert r.json()["total_unread"] == 2
    [item] = r.json()["items"]
    assert item["client_id"] == p["王伟"].id and item["unread_count"] == 2 and item["conversation_id"] == conv
    r = await client.post(f"/v1/conversations/{conv}/read", json={"seq": 2}, headers=adv.headers)
    assert r.status_code == 200
    assert (await client.get("/v1/advisor/inbox", headers=adv.headers)).json()["total_unread"] == 0
    assert (await client.get("/v1/advisor/inbox", headers=p["王伟"].headers)).status_code == 403


async def test_share_a_product_card_into_the_chat(client, users, rt):
    adv, other, p, _ = await _book(users, rt)
    lina = p["李娜"]
    admin = await users.make("admin", roles="admin,user")
    await catalogue(client, admin)
    card = {"product_id": "dep-r1"}
    r = await client.post(f"/v1/advisor/clients/{lina.id}/products", json=card, headers=adv.headers)
    assert r.status_code == 201, r.text
    conv = r.json()["conversation_id"]
    msgs = (await client.get(f"/v1/conversations/{conv}/messages", headers=lina.headers)).json()["items"]
    assert msgs[-1]["kind"] == "product" and msgs[-1]["sender_id"] == adv.id
    body = msgs[-1]["body"]
    assert body["product_id"] == "dep-r1" and body["link"] == "https://bank.example/products/dep-r1"
    assert body["risk_level"] == "R1" and "存款保险" in body["compliance_text"]
    bad = {**card, "link": "https://evil.example/x"}
    r = await client.post(f"/v1/advisor/clients/{lina.id}/products", json=bad, headers=adv.headers)
    assert r.status_code == 422
    r = await client.post(f"/v1/advisor/clients/{lina.id}/products", json=card, headers=other.headers)
    assert r.status_code == 404
    assert (
        len((await client.get(f"/v1/conversations/{conv}/messages", headers=lina.headers)).json()["items"])
        == 1
    )


async def test_open_the_conversation_and_see_activity(client, users, rt):
    adv, other, p, _ = await _book(users, rt)
    lina = p["李娜"]
    r = await client.post(f"/v1/advisor/clients/{lina.id}/conversation", headers=adv.headers)
    assert r.status_code == 200
    again = await client.post(f"/v1/advisor/clients/{lina.id}/conversation", headers=adv.headers)
    assert again.json() == r.json()
    mine = (await client.get("/v1/me/advisor", headers=lina.headers)).json()
    assert mine["conversation_id"] == r.json()["conversation_id"]
    assert (
        await client.post(f"/v1/advisor/clients/{lina.id}/conversation", headers=other.headers)
    ).status_code == 404

    post = await client.post(
        "/v1/posts", json={"kind": "post", "text": "今天学习了定投"}, headers=lina.headers
    )
    assert post.status_code == 201
    r = await client.get(f"/v1/advisor/clients/{lina.id}/activity", headers=adv.headers)
    assert r.status_code == 200
    assert [x["excerpt"] for x in r.json()["posts"]] == ["今天学习了定投"]
    assert r.json()["game"] == []
    assert (
        await client.get(f"/v1/advisor/clients/{lina.id}/activity", headers=other.headers)
    ).status_code == 404


async def test_admin_sees_capacity_and_reassigns_within_it(client, users, rt):
    adv, other, p, stranger = await _book(users, rt)
    admin = await users.make("管理员", roles="admin,user")
    r = await client.get("/v1/admin/advisors", headers=admin.headers)
    loads = {a["display_name"]: a for a in r.json()["items"]}
    assert loads["刘洋"]["clients"] == 4 and loads["陈晨"]["clients"] == 1
    r = await client.get(
        "/v1/admin/advisors/assignments", params={"advisor_id": other.id}, headers=admin.headers
    )
    assert [a["client_id"] for a in r.json()["items"]] == [stranger.id]
    # a full advisor takes nobody
    r = await client.put(f"/v1/admin/advisors/{other.id}", json={"capacity": 1}, headers=admin.headers)
    assert r.status_code == 200
    url = f"/v1/admin/advisors/assignments/{p['李娜'].id}"
    r = await client.put(url, json={"advisor_id": other.id}, headers=admin.headers)
    assert r.status_code == 409 and error_code(r) == "limit_exceeded"
    await client.put(f"/v1/admin/advisors/{other.id}", json={"capacity": 5}, headers=admin.headers)
    r = await client.put(url, json={"advisor_id": other.id}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["advisor_name"] == "陈晨"
    # not an advisor, nobody, oneself
    r = await client.put(url, json={"advisor_id": p["王伟"].id}, headers=admin.headers)
    assert r.status_code == 404
    r = await client.put(
        "/v1/admin/advisors/assignments/u_nobody", json={"advisor_id": other.id}, headers=admin.headers
    )
    assert r.status_code == 404
    r = await client.put(
        f"/v1/admin/advisors/assignments/{other.id}", json={"advisor_id": other.id}, headers=admin.headers
    )
    assert r.status_code == 422
    for who in (adv, p["李娜"]):
        assert (await client.get("/v1/admin/advisors", headers=who.headers)).status_code == 403
        assert (await client.put(url, json={"advisor_id": adv.id}, headers=who.headers)).status_code == 403


@pytest.mark.parametrize("n", [1])
async def test_client_summary_last_active_is_the_clients_own(client, users, rt, n):
    adv, _, p, _ = await _book(users, rt)
    lina = p["李娜"]
    async with rt.sessionmaker() as db:
        conv = await advisors.client_conversation(db, rt, advisor_id=adv.id, client_id=lina.id)
        async with transaction(db):
            await chat.post_message(
                db, rt, conversation_id=conv, sender_id=lina.id, kind="text", body={"text": "hi"}
            )
    first = (await client.get(f"/v1/advisor/clients/{lina.id}", headers=adv.headers)).json()["last_active_at"]
    await rt.advance_clock(timedelta(hours=n).total_seconds())
    async with rt.sessionmaker() as db, transaction(db):
        await chat.post_message(
            db, rt, conversation_id=conv, sender_id=adv.id, kind="text", body={"text": "您好"}
        )
    after = (await client.get(f"/v1/advisor/clients/{lina.id}", headers=adv.headers)).json()["last_active_at"]
    assert after == first
