from __future__ import annotations

import pytest

from tests.games.helpers import event, service_headers, spend
from tests.support.clock import BEFORE_BANK_MIDNIGHT, ONE_MINUTE
from tests.support.people import error_code


@pytest.mark.clock_start(BEFORE_BANK_MIDNIGHT)
async def test_spending_events_become_balls_within_caps_and_are_idempotent(client, rt, users):
    li = await users.make("li")
    now = rt.clock.now()
    evs = [event(li.id, "transit", 300, at=now, event_id=f"t{i}") for i in range(7)]
    evs += [event(li.id, "offline_payment", 99, at=now, event_id="small")]  # under ¥1
    evs += [event(li.id, "crypto", 100, at=now, event_id="odd")]
    evs += [event("u_not_ours", "transit", 100, at=now, event_id="x")]
    result = await spend(client, rt, evs)
    assert result == {
        "received": 10,
        "accepted": 9,  # stored whatever the category (the bank's record); unknown user: not
        "duplicates": 0,
        "energy_balls": 5,
        "energy_g": 5 * 52,
        "unknown_category": 1,
        "unknown_user": 1,
        "no_energy": 3,
    }
    again = await spend(client, rt, evs)
    assert again["accepted"] == 0 and again["duplicates"] == 9 and again["energy_balls"] == 0
    balls = (await client.get("/v1/forest", headers=li.headers)).json()["balls"]
    assert len(balls) == 5 and {b["amount_g"] for b in balls} == {52}
    # one minute later the bank's day turns (not UTC's): the daily cap starts again
    await rt.advance_clock(ONE_MINUTE)
    result = await spend(client, rt, [event(li.id, "transit", 300, at=rt.clock.now(), event_id="t8")])
    assert result["energy_balls"] == 1


async def test_monthly_caps_and_rules_version_on_each_ball(client, rt, users):
    li = await users.make("li")
    now = rt.clock.now()
    result = await spend(client, rt, [event(li.id, "bill_payment", at=now) for _ in range(12)])
    assert result["energy_balls"] == 10 and result["energy_g"] == 2620
    from sqlalchemy import select

    from games.forest.models import EnergyBall
    from games.rules import rules

    async with rt.sessionmaker() as db:
        versions = set((await db.execute(select(EnergyBall.rules_version))).scalars())
    assert versions == {rules().version}


async def test_a_batch_over_1000_or_malformed_is_refused(client, rt, users):
    li = await users.make("li")
    r = await client.post(
        "/v1/events/spending",
        json={"events": [event(li.id) for _ in range(1001)]},
        headers=service_headers(rt),
    )
    assert r.status_code == 422
    for bad in [
        {"amount_fen": -1},
        {"amount_fen": "100"},
        {"occurred_at": "yesterday"},
        {"occurred_at": "2026-01-01T00:00:00"},
        {"occurred_at": 0},  # seconds since the epoch: the schema says an RFC 3339 string
        {"occurred_at": 1767225600.5},
    ]:
        r = await client.post(
            "/v1/events/spending", json={"events": [event(li.id) | bad]}, headers=service_headers(rt)
        )
        assert r.status_code == 422, bad
    assert (await client.get("/v1/forest", headers=li.headers)).json()["balls"] == []


@pytest.mark.clock_start(BEFORE_BANK_MIDNIGHT)
async def test_steps_are_a_monotone_running_total_with_one_ball_a_day(client, rt, users):
    li = await users.make("li")

    async def steps(day: str, n: object):
        return await client.post("/v1/me/steps", json={"date": day, "steps": n}, headers=li.headers)

    # 23:59 on 25 November in Shanghai: today is the 25th, yesterday the 24th
    r = await steps("2026-11-25", 5000)
    assert r.status_code == 200 and r.json()["energy_g"] == 100
    r = await steps("2026-11-25", 3000)
    assert r.json()["steps"] == 5000 and r.json()["energy_g"] == 100
    r = await steps("2026-11-25", 40000)
    assert r.json()["energy_g"] == 296
    balls = (await client.get("/v1/forest", headers=li.headers)).json()["balls"]
    assert [(b["source"], b["amount_g"], b["remaining_g"]) for b in balls] == [("steps", 296, 296)]
    r = await steps("2026-11-24", 1000)
    assert r.status_code == 200 and r.json()["energy_g"] == 20
    for day, n in [
        ("2026-11-23", 10),
        ("2026-11-26", 10),
        ("2026-11-25", 10_000_000),
        ("2026-11-25", -1),
        ("2026-11-25", "12"),
    ]:
        r = await steps(day, n)
        assert r.status_code == 422 and error_code(r) == "validation_error", (day, n)
    # one minute later it is the 26th in Shanghai (still the 25th in UTC)
    await rt.advance_clock(ONE_MINUTE)
    r = await steps("2026-11-26", 1000)
    assert r.status_code == 200 and r.json()["energy_g"] == 20
    assert (await steps("2026-11-24", 2000)).status_code == 422  # two days ago now
    assert (await steps("2026-11-27", 10)).status_code == 422
    # the 25th's ball ripens at the end of the next day: midnight of the 27th in Shanghai
    [ball] = [
        b
        for b in (await client.get("/v1/forest", headers=li.headers)).json()["balls"]
        if b["amount_g"] == 296
    ]
    await rt.advance_clock(24 * 3600 - ONE_MINUTE)  # 23:59 on the 26th in Shanghai
    r = await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=li.headers)
    assert r.status_code == 409
    await rt.advance_clock(ONE_MINUTE)
    r = await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=li.headers)
    assert r.status_code == 200 and r.json()["collected_g"] == 296


async def test_concurrent_batches_never_grant_past_a_cap(client, rt, users):
    import anyio

    li = await users.make("li")
    now = rt.clock.now()
    results = []

    async def send(n):
        results.append(
            await spend(
                client, rt, [event(li.id, "transit", 300, at=now, event_id=f"c{n}-{i}") for i in range(3)]
            )
        )

    async with anyio.create_task_group() as tg:
        for n in range(6):
            tg.start_soon(send, n)
    assert sum(r["energy_balls"] for r in results) == 5
    assert len((await client.get("/v1/forest", headers=li.headers)).json()["balls"]) == 5
