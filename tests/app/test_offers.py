"""Cross-scenario offers (issue 17, item 4): a partner's event in one scenario earns an
offer on another — with consent to both, once per member per rule (also under concurrent
events), at most ``offers_per_week`` a week, in the message center too."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.app.test_profile import consent, push, watched
from tests.support.people import Person, error_code

DAY = 86_400
_codes = itertools.count(1)


@pytest.fixture
async def admin(users: Any) -> Person:
    return await users.make("admin", roles="admin,user")  # type: ignore[no-any-return]


def rule_body(**over: Any) -> dict[str, Any]:
    return {
        "name": "Spy Family fans",
        "scenario": "video",
        "event_type": "watched",
        "match": {"series": "间谍过家家 Spy Family"},
        "offer_scenario": "shopping",
        "title": "阿尼亚手办 8 折",
        "body": "20% off Anya figures on the shopping partner",
        "code": f"SPY{next(_codes)}",
        "valid_days": 14,
    } | over


async def make_rule(client, admin, **over: Any) -> dict[str, Any]:
    r = await client.post("/v1/admin/offer-rules", json=rule_body(**over), headers=admin.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def offers(client, person) -> list[dict[str, Any]]:
    r = await client.get("/v1/me/offers", headers=person.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def spy(user_id: str, rt: Any, **extra: Any) -> dict[str, Any]:
    return watched(user_id, series="间谍过家家 SPY FAMILY", occurred_at=rt.clock.now().isoformat(), **extra)


async def test_only_admins_manage_offer_rules_and_bad_rules_are_refused(client, users, admin):
    li = await users.make("li")
    assert (await client.post("/v1/admin/offer-rules", json=rule_body())).status_code == 401
    assert (
        await client.post("/v1/admin/offer-rules", json=rule_body(), headers=li.headers)
    ).status_code == 403
    assert (await client.get("/v1/admin/offer-rules", headers=li.headers)).status_code == 403
    assert (await client.get("/v1/me/offers")).status_code == 401
    for over, reason in [
        ({"scenario": "cinema"}, "unknown_scenario"),
        ({"scenario": "card"}, "unknown_scenario"),
        ({"offer_scenario": "video"}, "same_scenario"),
        ({"event_type": "liked"}, "unknown_type"),
        ({"match": {"colour": "red"}}, "unknown_attribute"),
        ({"match": {"series": 7}}, "bad_attribute"),
        ({"code": "has space"}, None),
        ({"valid_days": 0}, None),
        ({"title": ""}, None),
        ({"surprise": 1}, None),
    ]:
        r = await client.post("/v1/admin/offer-rules", json=rule_body(**over), headers=admin.headers)
        assert r.status_code == 422, (over, r.text)
        assert error_code(r) == "validation_error"
        if reason:
            assert r.json()["error"]["details"]["reason"] == reason
    rule = await make_rule(client, admin)
    assert (await client.delete(f"/v1/admin/offer-rules/{rule['id']}", headers=li.headers)).status_code == 403
    assert (await client.delete("/v1/admin/offer-rules/or_nope", headers=admin.headers)).status_code == 404
    listed = (await client.get("/v1/admin/offer-rules", headers=admin.headers)).json()
    assert [r["id"] for r in listed["items"]] == [rule["id"]] and listed["next_cursor"] is None


async def test_a_consented_event_earns_the_offer_once_and_a_notification(client, rt, users, admin):
    li, wang = await users.make("li"), await users.make("wang")
    rule = await make_rule(client, admin)
    await make_rule(client, admin, match={"series": "Naruto"}, code="NARUTO")  # does not match
    await consent(client, li, video=True, shopping=True)
    await push(client, rt, [spy(li.id, rt)])
    got = await offers(client, li)
    assert len(got) == 1
    offer = got[0]
    assert offer["rule_id"] == rule["id"] and offer["scenario"] == "shopping" and offer["because"] == "video"
    assert offer["code"] == rule["code"] and offer["title"] == rule["title"]
    assert offer["expires_at"] > offer["issued_at"]
    # again, and again in another batch: still one
    await push(client, rt, [spy(li.id, rt), spy(li.id, rt)])
    assert len(await offers(client, li)) == 1
    notes = (await client.get("/v1/notifications", headers=li.headers)).json()["items"]
    assert [n["data"]["offer_id"] for n in notes if n["kind"] == "offer"] == [offer["id"]]
    # another member sees none of it
    assert await offers(client, wang) == []
    listed = (await client.get("/v1/admin/offer-rules", headers=admin.headers)).json()["items"]
    assert {r["id"]: r["issued"] for r in listed}[rule["id"]] == 1
    # a deactivated rule issues no more
    assert (
        await client.delete(f"/v1/admin/offer-rules/{rule['id']}", headers=admin.headers)
    ).status_code == 204
    await consent(client, wang, video=True, shopping=True)
    await push(client, rt, [spy(wang.id, rt)])
    assert await offers(client, wang) == []


async def test_no_consent_no_offer(client, rt, users, admin):
    await make_rule(client, admin)
    li, wang = await users.make("li"), await users.make("wang")
    await consent(client, li, video=True)  # not to shopping, where the offer is used
    await consent(client, wang, shopping=True)  # not to video: the event is dropped
    result = await push(client, rt, [spy(li.id, rt), spy(wang.id, rt)])
    assert [r["status"] for r in result["results"]] == ["accepted", "no_consent"]
    assert await offers(client, li) == [] and await offers(client, wang) == []
    # consent later: the next event earns it
    await consent(client, li, video=True, shopping=True)
    await push(client, rt, [spy(li.id, rt)])
    assert len(await offers(client, li)) == 1


async def test_once_per_rule_under_concurrent_events(client, rt, users, admin):
    rules = [await make_rule(client, admin), await make_rule(client, admin, match={})]
    li = await users.make("li")
    await consent(client, li, video=True, shopping=True)
    at = rt.clock.now().isoformat()
    series = [
        "间谍过家家 Spy Family",
        "间谍过家家 spy family",
        "间谍过家家  SPY FAMILY",
        "间谍过家家 Spy  Family",
    ]
    results = await asyncio.gather(
        *(
            push(client, rt, [watched(li.id, occurred_at=at, attributes={"series": s})])
            for s in series * 2 + ["a", "b", "c"]  # the match-all rule from tags in no common row
        )
    )
    assert all(r["accepted"] == 1 for r in results)
    got = await offers(client, li)
    assert sorted(o["rule_id"] for o in got) == sorted(r["id"] for r in rules)


@pytest.mark.clock_start(datetime(2026, 12, 9, 4, 0, tzinfo=UTC))  # Wednesday, noon in Shanghai
async def test_a_weekly_cap_across_every_offer_in_the_banks_week(client, rt, users, admin):
    assert rt.settings.offers_per_week == 3
    rules = [await make_rule(client, admin, match={}, code=f"ANY{i}") for i in range(5)]
    li = await users.make("li")
    await consent(client, li, video=True, shopping=True)
    # concurrent events (different series: no tag row in common), each matching every
    # rule: three this week, no more
    at = rt.clock.now().isoformat()
    await asyncio.gather(
        *(
            push(client, rt, [watched(li.id, occurred_at=at, attributes={"series": f"s{i}"})])
            for i in range(6)
        )
    )
    assert len(await offers(client, li)) == 3
    # Sunday 23:00 in Shanghai: still this week
    await rt.advance_clock((4 * 24 + 11) * 3600 - 60)
    await push(client, rt, [spy(li.id, rt)])
    assert len(await offers(client, li)) == 3
    # Monday 00:00 in Shanghai (Sunday 16:00 UTC): a new week, two rules left
    await rt.advance_clock(3600 + 60)
    assert rt.clock.local(rt.clock.now()).weekday() == 0
    await push(client, rt, [spy(li.id, rt)])
    got = await offers(client, li)
    assert len(got) == 5 and sorted(o["rule_id"] for o in got) == sorted(r["id"] for r in rules)


async def test_offers_are_paged_and_in_the_export_and_erased(client, rt, users, admin):
    for i in range(3):
        await make_rule(client, admin, match={}, code=f"P{i}")
    li = await users.make("li")
    await consent(client, li, video=True, shopping=True)
    await push(client, rt, [spy(li.id, rt)])
    r = await client.get("/v1/me/offers?limit=2", headers=li.headers)
    page = r.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = (
        await client.get(f"/v1/me/offers?limit=2&cursor={page['next_cursor']}", headers=li.headers)
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert (await client.get("/v1/me/offers?cursor=%%%", headers=li.headers)).status_code == 422
    export = (await client.get("/v1/me/export", headers=li.headers)).json()
    assert len(export["offers"]["offers"]) == 3
    assert (await client.delete("/v1/me", headers=li.headers)).status_code == 204
    listed = (await client.get("/v1/admin/offer-rules", headers=admin.headers)).json()["items"]
    assert all(r["issued"] == 0 for r in listed)


async def test_the_demo_seed_gives_li_na_an_offer_and_an_audience(client, rt):
    from app import seed as seeding
    from app.auth import tokens

    ctx = await seeding.run(rt, echo=lambda *_: None)
    lina = {"Authorization": f"Bearer {tokens.issue(rt.settings, ctx.users['lina'].id)}"}
    admin = {"Authorization": f"Bearer {tokens.issue(rt.settings, ctx.users['admin'].id)}"}
    got = (await client.get("/v1/me/offers", headers=lina)).json()["items"]
    assert [o["code"] for o in got] == ["SPYFAMILY20"] and got[0]["scenario"] == "shopping"
    kinds = [n["kind"] for n in (await client.get("/v1/notifications", headers=lina)).json()["items"]]
    assert "offer" in kinds
    fans = (
        await client.get(f"/v1/admin/audiences/{ctx.extras['audience_anime_fans']}", headers=admin)
    ).json()
    assert fans["members"] >= 1 and fans["tags"] == ["genre:anime"]
