"""Scenario events, consents and the profile's tags (issue 17, items 1 and 2)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest

from tests.games.helpers import event as spending_event
from tests.games.helpers import service_headers, spend
from tests.support.people import error_code

_ids = itertools.count(1)
DAY = 86_400


def watched(user_id: str, series: str = "Spy Family", genre: str = "anime", **extra: Any) -> dict[str, Any]:
    return {
        "event_id": extra.pop("event_id", f"sv-{next(_ids)}"),
        "user_id": user_id,
        "scenario": extra.pop("scenario", "video"),
        "type": extra.pop("type", "watched"),
        "attributes": extra.pop("attributes", {"series": series, "genre": genre}),
        "occurred_at": extra.pop("occurred_at", "2026-11-25T01:00:00+00:00"),
    }


async def push(client, rt, events: list[dict[str, Any]]) -> dict[str, Any]:
    r = await client.post("/v1/scenarios/events", json={"events": events}, headers=service_headers(rt))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def consent(client, person, **granted: bool | str) -> dict[str, Any]:
    changes = []
    for scenario, value in granted.items():
        changes.append({"scenario": scenario, "granted": bool(value), "share_with_advisor": value == "share"})
    r = await client.put("/v1/me/consents", json={"consents": changes}, headers=person.headers)
    assert r.status_code == 200, r.text
    return {c["scenario"]: c for c in r.json()["items"]}


async def tags(client, person) -> dict[str, dict[str, Any]]:
    r = await client.get("/v1/me/profile", headers=person.headers)
    assert r.status_code == 200, r.text
    return {t["tag"]: t for t in r.json()["tags"]}


async def stored_events(rt) -> list[str]:
    from sqlalchemy import select

    from app.profile.models import ScenarioEvent

    async with rt.sessionmaker() as db:
        return sorted((await db.execute(select(ScenarioEvent.event_id))).scalars())


async def test_consents_start_ungranted_and_list_every_scenario(client, users):
    li = await users.make("li")
    r = await client.get("/v1/me/consents", headers=li.headers)
    assert r.status_code == 200
    items = {c["scenario"]: c for c in r.json()["items"]}
    assert {"video", "food_delivery", "transit", "shopping", "card", "games", "content"} <= set(items)
    assert not any(c["granted"] or c["share_with_advisor"] for c in items.values())
    after = await consent(client, li, video=True)
    assert after["video"]["granted"] and not after["shopping"]["granted"]


async def test_events_without_consent_are_dropped_counted_and_not_stored(client, rt, users):
    li = await users.make("li")
    result = await push(client, rt, [watched(li.id, event_id="a"), watched("u_nobody", event_id="b")])
    assert result["no_consent"] == 2 and result["accepted"] == 0
    assert [r["status"] for r in result["results"]] == ["no_consent", "no_consent"]
    assert await stored_events(rt) == []
    assert await tags(client, li) == {}
    # consent to another scenario does not open this one
    await consent(client, li, shopping=True)
    assert (await push(client, rt, [watched(li.id, event_id="a")]))["no_consent"] == 1
    assert await stored_events(rt) == [] and await tags(client, li) == {}


async def test_a_batch_is_checked_per_event_and_idempotent_by_event_id(client, rt, users):
    li = await users.make("li")
    await consent(client, li, video=True, shopping=True)
    batch = [
        watched(li.id, event_id="ok1"),
        watched(li.id, event_id="ok1"),  # twice in one batch
        watched(li.id, event_id="t", type="streamed"),
        watched(li.id, event_id="s", scenario="casino"),
        watched(li.id, event_id="x", attributes={"series": "A", "price": 3}),
        watched(li.id, event_id="m", attributes={"genre": "anime"}),
        watched(li.id, event_id="b", attributes={"series": 5}),
        watched(li.id, event_id="f", occurred_at="2030-01-01T00:00:00+00:00"),
        watched(li.id, event_id="c", scenario="card", type="paid"),
        {
            "event_id": "buy",
            "user_id": li.id,
            "scenario": "shopping",
            "type": "purchased",
            "attributes": {"category": "Anime Figures", "amount_fen": 19900},
            "occurred_at": "2026-11-25T01:30:00+08:00",
        },
    ]
    result = await push(client, rt, batch)
    reasons = {r["event_id"]: r.get("reason") for r in result["results"] if r["status"] == "rejected"}
    assert reasons == {
        "t": "unknown_type",
        "s": "unknown_scenario",
        "x": "unknown_attribute",
        "m": "missing_attribute",
        "b": "bad_attribute",
        "f": "occurred_in_future",
        "c": "not_a_partner_scenario",
    }
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (2, 1, 7)
    assert [r["status"] for r in result["results"]][:2] == ["accepted", "duplicate"]
    assert await stored_events(rt) == ["buy", "ok1"]
    again = await push(client, rt, batch)
    assert again["accepted"] == 0 and again["duplicates"] == 3
    held = await tags(client, li)
    assert set(held) == {"series:spy_family", "genre:anime", "shopping:anime_figures"}
    assert held["series:spy_family"]["sources"][0]["count"] == 1  # the replay added nothing
    assert held["shopping:anime_figures"]["sources"][0]["why"] == "you bought anime figures 1 times"


async def test_malformed_batches_are_422_and_change_nothing(client, rt, users):
    li = await users.make("li")
    await consent(client, li, video=True)
    for bad in (
        {"events": []},
        {"events": [watched(li.id) for _ in range(1001)]},
        {"events": [watched(li.id) | {"occurred_at": "2026-11-25T01:00:00"}]},
        {"events": [watched(li.id) | {"attributes": ["x"]}]},
        {"events": [watched(li.id) | {"event_id": ""}]},
    ):
        r = await client.post("/v1/scenarios/events", json=bad, headers=service_headers(rt))
        assert r.status_code == 422 and error_code(r) == "validation_error"
    assert await stored_events(rt) == []
    r = await client.post("/v1/scenarios/events", json={"events": [watched(li.id)]}, headers=li.headers)
    assert r.status_code == 401  # a member's token is not the service token
    r = await client.post("/v1/scenarios/events", json={"events": [watched(li.id)]})
    assert r.status_code == 401


async def test_bad_consent_changes_are_refused(client, users):
    li = await users.make("li")
    for bad in (
        [{"scenario": "casino", "granted": True}],
        [{"scenario": "video", "granted": True}, {"scenario": "video", "granted": False}],
        [{"scenario": "video", "granted": False, "share_with_advisor": True}],
        [],
    ):
        r = await client.put("/v1/me/consents", json={"consents": bad}, headers=li.headers)
        assert r.status_code == 422, bad
    assert not any(
        c["granted"] for c in (await client.get("/v1/me/consents", headers=li.headers)).json()["items"]
    )
    assert (await client.get("/v1/me/consents")).status_code == 401
    assert (await client.get("/v1/me/profile")).status_code == 401


async def test_withdrawing_consent_deletes_the_events_and_the_tags_derived_from_them(client, rt, users):
    li, wu = await users.make("li"), await users.make("wu")
    for p in (li, wu):
        await consent(client, p, video=True, card=True)
    await push(client, rt, [watched(li.id), watched(wu.id)])
    await spend(client, rt, [spending_event(li.id, "transit", 300, at=rt.clock.now())])
    assert set(await tags(client, li)) == {"series:spy_family", "genre:anime", "spend:transit"}
    await consent(client, li, video=False)
    assert set(await tags(client, li)) == {"spend:transit"}  # card spending stays: still consented
    assert len(await stored_events(rt)) == 1  # only wu's
    assert set(await tags(client, wu)) == {"series:spy_family", "genre:anime"}  # others untouched
    # and new events from the withdrawn scenario are dropped again
    assert (await push(client, rt, [watched(li.id)]))["no_consent"] == 1


async def test_card_spending_makes_tags_only_with_consent(client, rt, users):
    li = await users.make("li")
    now = rt.clock.now()
    await spend(client, rt, [spending_event(li.id, "transit", 300, at=now)])
    assert await tags(client, li) == {}
    await consent(client, li, card=True)
    await spend(client, rt, [spending_event(li.id, "transit", 300, at=now) for _ in range(3)])
    held = await tags(client, li)
    assert held["spend:transit"]["sources"][0]["count"] == 3
    assert held["spend:transit"]["sources"][0]["why"] == "you paid by card for transit 3 times"


async def test_a_tag_weight_halves_every_half_life_without_rescans(client, rt, users):
    li = await users.make("li")
    await consent(client, li, video=True)
    now = rt.clock.now()
    await push(client, rt, [watched(li.id, occurred_at=now.isoformat())])
    assert (await tags(client, li))["genre:anime"]["weight"] == pytest.approx(1.0)
    half_life = rt.settings.profile_tag_half_life_days * DAY
    await rt.advance_clock(half_life)
    assert (await tags(client, li))["genre:anime"]["weight"] == pytest.approx(0.5, abs=1e-3)
    # new evidence adds to the decayed weight; an event from long ago counts for less
    later = rt.clock.now()
    old = (later - timedelta(seconds=half_life)).isoformat()
    await push(client, rt, [watched(li.id, occurred_at=later.isoformat()), watched(li.id, occurred_at=old)])
    held = (await tags(client, li))["genre:anime"]
    assert held["weight"] == pytest.approx(0.5 + 1.0 + 0.5, abs=1e-3)
    assert held["sources"][0]["count"] == 3
    assert held["sources"][0]["why"] == "you watched anime 3 times on the video partner"


async def test_a_removed_tag_is_gone_and_not_derived_again(client, rt, users):
    li = await users.make("li")
    await consent(client, li, video=True)
    await push(client, rt, [watched(li.id)])
    r = await client.delete("/v1/me/profile/tags/genre:anime", headers=li.headers)
    assert r.status_code == 204
    await push(client, rt, [watched(li.id)])
    assert set(await tags(client, li)) == {"series:spy_family"}
    r = await client.delete("/v1/me/profile/tags/genre:anime", headers=li.headers)
    assert r.status_code == 404 and error_code(r) == "not_found"
    # another member cannot remove mine
    wu = await users.make("wu")
    r = await client.delete("/v1/me/profile/tags/series:spy_family", headers=wu.headers)
    assert r.status_code == 404
    assert set(await tags(client, li)) == {"series:spy_family"}


async def test_the_demo_seed_gives_li_na_consents_and_tags_with_reasons(client, rt):
    from app import seed as seeding
    from app.auth import tokens

    ctx = await seeding.run(rt, echo=lambda *_: None)
    headers = {"Authorization": f"Bearer {tokens.issue(rt.settings, ctx.users['lina'].id)}"}
    items = {c["scenario"]: c for c in (await client.get("/v1/me/consents", headers=headers)).json()["items"]}
    assert items["video"]["share_with_advisor"] and not items["food_delivery"]["granted"]
    held = {t["tag"]: t for t in (await client.get("/v1/me/profile", headers=headers)).json()["tags"]}
    assert {"genre:anime", "shopping:anime_figures", "spend:transit"} <= set(held)
    assert not any(t.startswith("cuisine:") for t in held)  # not consented
    assert held["spend:transit"]["sources"][0]["why"] == "you paid by card for transit 8 times"
