from __future__ import annotations

from datetime import timedelta

from tests.games.helpers import event, service_headers, spend
from tests.support.people import error_code


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
    # the next day, the daily cap starts again
    await rt.advance_clock(24 * 3600)
    result = await spend(client, rt, [event(li.id, "transit", 300, at=rt.clock.now())])
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
    ]:
        r = await client.post(
            "/v1/events/spending", json={"events": [event(li.id) | bad]}, headers=service_headers(rt)
        )
        assert r.status_code == 422, bad
    assert (await client.get("/v1/forest", headers=li.headers)).json()["balls"] == []


async def test_steps_are_a_monotone_running_total_with_one_ball_a_day(client, rt, users):
    li = await users.make("li")
    today = rt.clock.today()
    r = await client.post("/v1/me/steps", json={"date": today.isoformat(), "steps": 5000}, headers=li.headers)
    assert r.status_code == 200 and r.json()["energy_g"] == 100
    r = await client.post("/v1/me/steps", json={"date": today.isoformat(), "steps": 3000}, headers=li.headers)
    assert r.json()["steps"] == 5000 and r.json()["energy_g"] == 100
    r = await client.post(
        "/v1/me/steps", json={"date": today.isoformat(), "steps": 40000}, headers=li.headers
    )
    assert r.json()["energy_g"] == 296
    balls = (await client.get("/v1/forest", headers=li.headers)).json()["balls"]
    assert [(b["source"], b["amount_g"], b["remaining_g"]) for b in balls] == [("steps", 296, 296)]
    yesterday = (today - timedelta(days=1)).isoformat()
    r = await client.post("/v1/me/steps", json={"date": yesterday, "steps": 1000}, headers=li.headers)
    assert r.status_code == 200 and r.json()["energy_g"] == 20
    for bad in [
        {"date": (today - timedelta(days=2)).isoformat(), "steps": 10},
        {"date": (today + timedelta(days=1)).isoformat(), "steps": 10},
        {"date": today.isoformat(), "steps": 10_000_000},
        {"date": today.isoformat(), "steps": -1},
        {"date": today.isoformat(), "steps": "12"},
    ]:
        r = await client.post("/v1/me/steps", json=bad, headers=li.headers)
        assert r.status_code == 422 and error_code(r) == "validation_error", bad
    # the day's ball ripens at the end of the next day
    [ball] = [
        b
        for b in (await client.get("/v1/forest", headers=li.headers)).json()["balls"]
        if b["amount_g"] == 296
    ]
    r = await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=li.headers)
    assert r.status_code == 409
    await rt.advance_clock(48 * 3600)
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
