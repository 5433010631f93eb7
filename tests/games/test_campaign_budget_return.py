"""A finished campaign's leftover budget goes back to the account that funded it (the
bank's rewards account, ``create_campaign``): once the campaign has ended (an admin's end,
or its end time passing: the ``campaign_close`` job) and its last hold is captured or
expired, in one balanced posting, exactly once — two runners at once and a retry move it
once, and a refund racing the return is booked either side of it, never lost."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from app.ledger import service as ledger
from app.ledger.models import LedgerTransaction
from games.campaigns import service as campaigns
from games.campaigns.models import Campaign
from tests.games.test_campaigns import (  # noqa: F401
    admin,
    balance,
    capture,
    ledger_ok,
    make_campaign,
    quote,
    refund,
)
from tests.support.people import Person

MINUTE = 60


async def returns_of(rt: Any, campaign_id: str) -> int:
    """How many ``campaign_budget_return`` postings the campaign has."""
    async with rt.sessionmaker() as db:
        return int(
            await db.scalar(
                select(func.count())
                .select_from(LedgerTransaction)
                .where(
                    LedgerTransaction.kind == "campaign_budget_return",
                    LedgerTransaction.ref_id == campaign_id,
                )
            )
            or 0
        )


async def report(client: Any, by: Person, campaign_id: str) -> dict[str, Any]:
    r = await client.get(f"/v1/admin/campaigns/{campaign_id}/report", headers=by.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def advance(client: Any, p: Person, seconds: int) -> None:
    """Move business time and run the due jobs (hold expiry, then the close job)."""
    r = await client.post("/v1/dev/clock", json={"advance_s": seconds}, headers=p.headers)
    assert r.status_code == 200, r.text


async def test_an_admin_end_returns_the_leftover_at_once_and_a_later_refund_goes_to_the_funder(
    client,
    rt,
    users,
    admin,  # noqa: F811
):
    cp = await make_campaign(client, rt, admin, total_budget_fen=10_000)
    li, wang = await users.make("li"), await users.make("wang")
    paid = []
    for p in (li, wang):
        q = await quote(client, rt, p)
        assert q["discount_fen"] == 1_000
        assert (await capture(client, rt, q["payment_id"])).status_code == 200
        paid.append(q["payment_id"])
    before = await report(client, admin, cp["id"])
    assert before["budget_returned_fen"] == 0 and before["budget_returned_at"] is None
    assert before["budget_remaining_fen"] == 8_000

    r = await client.post(f"/v1/admin/campaigns/{cp['id']}/end", headers=admin.headers)
    assert r.status_code == 200, r.text
    # No hold was open: the leftover went back when the end committed.
    rep = await report(client, admin, cp["id"])
    assert rep["budget_returned_fen"] == 8_000 and rep["budget_returned_at"] is not None
    assert rep["budget_remaining_fen"] == 0 and rep["discount_paid_fen"] == 2_000
    assert await balance(rt, campaigns.campaign_account(cp["id"])) == 0
    assert await balance(rt, ledger.REWARDS) == -2_000  # funded 10 000, got 8 000 back
    assert await returns_of(rt, cp["id"]) == 1
    # A retry (the job's next pass) finds nothing to do.
    assert await campaigns.close_finished(rt) == 0
    assert await campaigns.return_budget(rt, cp["id"]) is None
    assert await returns_of(rt, cp["id"]) == 1
    await ledger_ok(rt)

    # A refund after the return: the discount's share goes straight back to the funder,
    # the closed budget account stays empty.
    assert (await refund(client, rt, paid[0], "r-after-end")).status_code == 200
    assert await balance(rt, campaigns.campaign_account(cp["id"])) == 0
    assert await balance(rt, ledger.REWARDS) == -1_000
    assert await balance(rt, campaigns.merchant_account("tmall-001")) == 1_000
    rep = await report(client, admin, cp["id"])
    assert rep["budget_returned_fen"] == 8_000 and rep["budget_remaining_fen"] == 0
    assert rep["discount_paid_fen"] == 1_000
    await ledger_ok(rt)


async def test_the_end_time_passing_returns_the_budget_once_the_open_hold_expires(
    client,
    rt,
    users,
    admin,  # noqa: F811
):
    now = rt.clock.now()
    cp = await make_campaign(
        client, rt, admin, total_budget_fen=5_000, ends_at=(now + timedelta(minutes=10)).isoformat()
    )
    li, wang = await users.make("li"), await users.make("wang")
    open_hold = await quote(client, rt, li)  # held for 15 minutes: past the end
    q = await quote(client, rt, wang)
    assert (await capture(client, rt, q["payment_id"])).status_code == 200

    await advance(client, li, 11 * MINUTE)  # the end time has passed: the job ends it
    view = (await client.get(f"/v1/admin/campaigns/{cp['id']}", headers=admin.headers)).json()
    assert view["status"] == "ended" and not view["running"]
    rep = await report(client, admin, cp["id"])
    assert rep["holds_open"] == 1 and rep["budget_returned_fen"] == 0  # waits for li's hold
    assert await balance(rt, campaigns.campaign_account(cp["id"])) == 4_000
    assert await returns_of(rt, cp["id"]) == 0

    await advance(client, li, 5 * MINUTE)  # li's hold lapses; then the close job returns
    assert (await capture(client, rt, open_hold["payment_id"])).status_code == 410
    rep = await report(client, admin, cp["id"])
    assert rep["holds_open"] == 0 and rep["holds_expired"] == 1
    assert rep["budget_returned_fen"] == 4_000 and rep["budget_remaining_fen"] == 0
    assert await balance(rt, campaigns.campaign_account(cp["id"])) == 0
    assert await balance(rt, ledger.REWARDS) == -1_000
    await advance(client, li, 2 * MINUTE)  # the next pass: nothing more
    assert await returns_of(rt, cp["id"]) == 1
    await ledger_ok(rt)


async def test_a_hold_captured_after_the_end_is_paid_before_the_rest_goes_back(
    client,
    rt,
    users,
    admin,  # noqa: F811
):
    cp = await make_campaign(client, rt, admin, total_budget_fen=5_000)
    li = await users.make("li")
    held = await quote(client, rt, li)
    r = await client.post(f"/v1/admin/campaigns/{cp['id']}/end", headers=admin.headers)
    assert r.status_code == 200
    assert (await report(client, admin, cp["id"]))["budget_returned_fen"] == 0  # li's hold is open
    assert (await capture(client, rt, held["payment_id"])).status_code == 200  # held before the end
    assert await campaigns.close_finished(rt) == 1
    rep = await report(client, admin, cp["id"])
    assert rep["budget_returned_fen"] == 4_000 and rep["discount_paid_fen"] == 1_000
    assert await balance(rt, campaigns.merchant_account("tmall-001")) == 1_000
    assert await balance(rt, campaigns.campaign_account(cp["id"])) == 0
    await ledger_ok(rt)


async def test_two_runners_a_retry_and_a_racing_refund_move_the_budget_once(
    client,
    rt,
    users,
    admin,  # noqa: F811
):
    cp = await make_campaign(client, rt, admin, total_budget_fen=20_000)
    people = [await users.make(f"p{i}") for i in range(4)]
    captured = []
    for p in people[:3]:
        q = await quote(client, rt, p)
        assert (await capture(client, rt, q["payment_id"])).status_code == 200
        captured.append(q["payment_id"])
    open_hold = await quote(client, rt, people[3])
    assert open_hold["discount_fen"] == 1_000
    assert (
        await client.post(f"/v1/admin/campaigns/{cp['id']}/end", headers=admin.headers)
    ).status_code == 200
    await rt.advance_clock(16 * MINUTE)  # the hold lapses; no job has run yet
    assert await campaigns.expire_holds(rt) == 1
    assert await returns_of(rt, cp["id"]) == 0

    # Two job runners, two direct returns and a full refund of one payment, all at once.
    results = await asyncio.gather(
        campaigns.close_finished(rt),
        campaigns.close_finished(rt),
        campaigns.return_budget(rt, cp["id"]),
        campaigns.return_budget(rt, cp["id"]),
        refund(client, rt, captured[0], "r-race"),
    )
    assert results[-1].status_code == 200, results[-1].text
    # Whoever runs after the others have finished finds nothing left to do (a retry).
    assert await campaigns.close_finished(rt) == 0
    assert await returns_of(rt, cp["id"]) == 1
    async with rt.sessionmaker() as db:
        c = await db.get(Campaign, cp["id"])
        assert c is not None and c.budget_returned_at is not None
        returned = c.budget_returned_fen
    # The refund was booked before the return (its share then went back with the rest)
    # or after it (straight to the funder): either way, the same money in the same places.
    assert returned in (17_000, 18_000)
    assert await balance(rt, campaigns.campaign_account(cp["id"])) == 0
    assert await balance(rt, campaigns.merchant_account("tmall-001")) == 2_000
    assert await balance(rt, ledger.REWARDS) == -2_000
    rep = await report(client, admin, cp["id"])
    assert rep["budget_returned_fen"] == returned and rep["budget_remaining_fen"] == 0
    assert rep["discount_paid_fen"] == 2_000
    await ledger_ok(rt)
