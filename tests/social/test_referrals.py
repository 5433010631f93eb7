from __future__ import annotations

import anyio
import pytest
from sqlalchemy import func, select

from app.ledger.models import LedgerTransaction
from social.referrals import service as referrals
from tests.support.cards import card_token
from tests.support.clock import BEFORE_BANK_NEW_YEAR, ONE_MINUTE
from tests.support.people import error_code


async def code_of(client, p) -> str:
    r = await client.get("/v1/referrals/me", headers=p.headers)
    assert r.status_code == 200, r.text
    return r.json()["code"]


async def redeem(client, p, code):
    return await client.post("/v1/referrals/redeem", json={"code": code}, headers=p.headers)


async def link_card(users, p, card_ref="card-0001"):
    """Link the card ``card_ref`` through the app, with a token the bank signed for ``p``."""
    token = card_token(users.rt, p.id, card_ref=card_ref)
    body = {"card_token": token, "last4": "4321"}
    return await users.client.post("/v1/me/cards", json=body, headers=p.headers)


async def test_code_share_url_and_reward_on_first_card(client, users, rt):
    old = await users.make("old")
    new = await users.make("new", cardholder=False)
    me = (await client.get("/v1/referrals/me", headers=old.headers)).json()
    assert len(me["code"]) == 8 and me["share_url"].endswith("/r/" + me["code"])
    assert me["invited"] == [] and me["rewards_fen"] == 0
    assert (await code_of(client, old)) == me["code"]  # stable
    r = await redeem(client, new, me["code"].lower())
    assert r.status_code == 201, r.text
    assert r.json()["referrer"]["id"] == old.id and r.json()["status"] == "pending"
    assert await users.balance(old) == 0
    assert (await link_card(users, new)).status_code == 201
    assert await users.balance(old) == 2000
    me = (await client.get("/v1/referrals/me", headers=old.headers)).json()
    assert me["rewards_fen"] == 2000
    assert [(i["user_id"], i["status"], i["reward_fen"]) for i in me["invited"]] == [
        (new.id, "rewarded", 2000)
    ]
    notes = (await client.get("/v1/notifications", headers=old.headers)).json()["items"]
    assert [n["kind"] for n in notes] == ["referral_reward"]
    assert notes[0]["data"]["amount_fen"] == 2000
    # a second card changes nothing
    assert (await link_card(users, new, "another-card-0002")).status_code == 201
    assert await users.balance(old) == 2000
    async with rt.sessionmaker() as db:
        from app.ledger import service as ledger

        assert (await ledger.audit(db)).ok


async def test_reward_exactly_once_when_the_card_is_linked_twice_concurrently(client, users, rt):
    old = await users.make("old")
    new = await users.make("new", cardholder=False)
    await redeem(client, new, await code_of(client, old))
    statuses: list[int] = []

    async def link(token: str) -> None:
        statuses.append((await link_card(users, new, token)).status_code)

    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(link, f"concurrent-card-{i % 2}")
    assert statuses == [201] * 6
    assert await users.balance(old) == 2000
    async with rt.sessionmaker() as db:
        n = await db.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.kind == "referral_reward")
        )
        assert n == 1


async def test_the_hook_itself_pays_once_even_when_run_concurrently(client, users, rt):
    # Bypass the user-row lock of card linking: the reward row's key alone must hold.
    from app.db import transaction

    old = await users.make("old")
    new = await users.make("new", cardholder=False)
    await redeem(client, new, await code_of(client, old))

    async def fire() -> None:
        async with rt.sessionmaker() as db, transaction(db):
            await referrals.reward_referrer(db, rt, new.id)

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(fire)
    await fire()
    assert await users.balance(old) == 2000


async def test_redeem_rules(client, users, rt):
    old = await users.make("old")
    code = await code_of(client, old)
    # self
    r = await redeem(client, old, code)
    assert r.status_code == 422 and error_code(r) == "validation_error"
    # unknown code
    newbie = await users.make("newbie", cardholder=False)
    assert (await redeem(client, newbie, "ZZZZZZZZ")).status_code == 404
    assert (await redeem(client, newbie, "")).status_code == 422
    # already a cardholder
    holder = await users.make("holder")
    r = await redeem(client, holder, code)
    assert r.status_code == 409 and error_code(r) == "conflict"
    # once, one referrer
    other = await users.make("other")
    assert (await redeem(client, newbie, code)).status_code == 201
    r = await redeem(client, newbie, await code_of(client, other))
    assert r.status_code == 409
    assert (await redeem(client, newbie, code)).status_code == 409


async def test_redeem_expires_seven_days_after_signup(client, users, rt):
    old = await users.make("old")
    code = await code_of(client, old)
    early = await users.make("early", cardholder=False)
    late = await users.make("late", cardholder=False)
    await rt.advance_clock(6 * 86_400)
    assert (await redeem(client, early, code)).status_code == 201
    await rt.advance_clock(86_400 + 1)
    r = await redeem(client, late, code)
    assert r.status_code == 410 and error_code(r) == "expired"


async def test_no_cycles(client, users):
    a, b, c = [await users.make(n, cardholder=False) for n in "abc"]
    ca, cb, cc = await code_of(client, a), await code_of(client, b), await code_of(client, c)
    assert (await redeem(client, a, cb)).status_code == 201  # b referred a
    r = await redeem(client, b, ca)  # a referring b closes a 2-cycle
    assert r.status_code == 409 and "cycle" in r.json()["error"]["message"]
    assert (await redeem(client, b, cc)).status_code == 201  # c referred b
    assert (await redeem(client, c, ca)).status_code == 409  # a → c would close c → b → a


@pytest.mark.clock_start(BEFORE_BANK_NEW_YEAR)
async def test_rewards_are_capped_per_referrer_per_year(client, users, rt):
    rt.settings.referral_rewards_per_year = 2
    old = await users.make("old")
    code = await code_of(client, old)
    for i in range(3):
        new = await users.make(f"new{i}", cardholder=False)
        assert (await redeem(client, new, code)).status_code == 201
        assert (await link_card(users, new, f"card-of-new-{i}")).status_code == 201
    assert await users.balance(old) == 4000
    me = (await client.get("/v1/referrals/me", headers=old.headers)).json()
    assert sorted(i["status"] for i in me["invited"]) == ["capped", "rewarded", "rewarded"]
    assert me["rewards_fen"] == 4000
    # a minute later it is 2027 in Shanghai (not yet in UTC): the cap starts again
    await rt.advance_clock(ONE_MINUTE)
    new = await users.make("next-year", cardholder=False)
    assert (await redeem(client, new, code)).status_code == 201
    assert (await link_card(users, new, "card-next-year")).status_code == 201
    assert await users.balance(old) == 6000


async def test_poster_is_a_png_with_my_code(client, users):
    import io

    from PIL import Image

    old = await users.make("old")
    r = await client.get("/v1/referrals/me/poster.png", headers=old.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(r.content))
    assert img.format == "PNG" and img.size == (720, 1080)


async def test_referral_data_is_private(client, users):
    old = await users.make("old")
    eve = await users.make("eve")
    new = await users.make("new", cardholder=False)
    await redeem(client, new, await code_of(client, old))
    mine = (await client.get("/v1/referrals/me", headers=eve.headers)).json()
    assert mine["invited"] == [] and mine["code"] != await code_of(client, old)


@pytest.mark.parametrize(
    "method,path",
    [("GET", "/v1/referrals/me"), ("GET", "/v1/referrals/me/poster.png"), ("POST", "/v1/referrals/redeem")],
)
async def test_referral_endpoints_need_a_token(client, method, path):
    r = await client.request(method, path, json={"code": "ABCDEFGH"} if method == "POST" else None)
    assert r.status_code == 401


async def test_the_share_link_opens_a_chinese_landing_page_with_the_poster(client, users, rt):
    import io

    from PIL import Image

    lina = await users.make("李娜")
    me = (await client.get("/v1/referrals/me", headers=lina.headers)).json()
    path = "/r/" + me["share_url"].split("/r/", 1)[1]
    page = await client.get(path)  # public: no login
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "李娜 邀请你加入圈子" in text and me["code"] in text and "如何领取" in text
    assert f'src="/r/{me["code"]}/poster.png"' in text
    poster = await client.get(f"/r/{me['code']}/poster.png")
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(poster.content)).size == (720, 1080)
    assert (await client.get(f"/r/{me['code'].lower()}")).status_code == 200  # typed by hand
    missing = await client.get("/r/NOSUCH99")
    assert missing.status_code == 404 and "邀请码无效" in missing.text
    assert (await client.get("/r/NOSUCH99/poster.png")).status_code == 404
    evil = await users.make("<script>x</script>")
    code = (await client.get("/v1/referrals/me", headers=evil.headers)).json()["code"]
    assert "<script>x" not in (await client.get(f"/r/{code}")).text


def test_the_poster_renders_chinese_glyphs():
    """The CJK font draws 邀请 as glyphs, not the missing-glyph box of a Latin font."""
    from app.fonts import cjk_font

    font = cjk_font(40)
    assert font.getmask("邀").getbbox() != font.getmask("口").getbbox()
    assert font.getlength("邀请你加入圈子") > 200
