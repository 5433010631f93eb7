"""Demo: a 满100减10 card-payment campaign that Li Na may still use, and Wang Wei's payment
that it already discounted (his message center says so)."""

from __future__ import annotations

from datetime import timedelta

from app.seed import SeedContext
from games.campaigns import service as campaigns
from games.campaigns.rules import Channel, DiscountKind, Per
from games.campaigns.schemas import CampaignCreate, QuoteIn


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt = ctx.rt
    now = rt.clock.now()
    body = CampaignCreate(
        name="银联卡满100减10",
        description="用圈子银行卡消费满100元立减10元，每人限一次",
        kind=DiscountKind.THRESHOLD,
        min_amount_fen=10_000,
        discount_fen=1_000,
        per=Per.CAMPAIGN,
        total_budget_fen=1_000_000,
        daily_budget_fen=100_000,
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=30),
    )
    async with rt.sessionmaker() as db:
        c = await campaigns.create_campaign(db, rt, admin_id=ctx.users["admin"].id, body=body)
        await campaigns.schedule(db, rt, campaign_id=c.id)
        wangwei = ctx.users["wangwei"].id
        q = QuoteIn(
            payment_id="demo-pay-1",
            user_id=wangwei,
            card_ref="demo-card-wangwei",
            amount_fen=12_800,
            mcc="5411",
            merchant_id="demo-supermarket",
            channel=Channel.POS,
        )
        await campaigns.quote(db, rt, q=q)
        await campaigns.capture(db, rt, payment_id=q.payment_id)
