"""The campaign report's incremental spend: the campaign's cardholders' card spending
during it against the same cardholders' in the period of the same length before it."""

from __future__ import annotations

from datetime import timedelta

from tests.games.helpers import event, spend
from tests.games.test_campaigns import admin, capture, make_campaign, quote  # noqa: F401

DAY = timedelta(days=1)


async def test_incremental_spend_compares_the_same_cardholders_previous_period(client, rt, users, admin):  # noqa: F811
    now = rt.clock.now()
    cp = await make_campaign(client, rt, admin, starts_at=(now - 5 * DAY).isoformat())
    li, wang = await users.make("li"), await users.make("wang")
    await spend(
        client,
        rt,
        [
            event(li.id, "offline_payment", 30_000, at=now - 7 * DAY),  # the previous period
            event(li.id, "offline_payment", 4_000, at=now - 11 * DAY),  # before it: not counted
            event(li.id, "offline_payment", 20_000, at=now - 2 * DAY),  # during the campaign
            event(wang.id, "offline_payment", 500_000, at=now - 2 * DAY),  # not a campaign cardholder
        ],
    )
    q = await quote(client, rt, li, amount_fen=100_000)
    assert q["campaign_id"] == cp["id"]
    assert (await capture(client, rt, q["payment_id"])).status_code == 200  # ¥990 paid
    r = await client.get(f"/v1/admin/campaigns/{cp['id']}/report", headers=admin.headers)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["unique_cardholders"] == 1
    assert rep["cardholders_spend_fen"] == 20_000 + 99_000
    assert rep["previous_period_spend_fen"] == 30_000
    assert rep["incremental_spend_fen"] == 89_000
    assert rep["previous_period_start"] < rep["period_start"] < rep["period_end"]
