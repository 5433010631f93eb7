"""The consoles in a real browser (Playwright + the system's Chromium; see ``browser.py``).

Each test keeps screenshots of the pages it visits under ``var/screenshots/``; the
checks themselves are by element and text, never by pixels.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
import websockets
from sqlalchemy import select

from app.ops import timeseries
from content.moderation import service as moderation
from content.moderation.jobs import measure_queue
from social.advisors import service as advisors
from social.chat.models import ConversationMember
from tests.console import browser as b
from tests.content.helpers import new_post
from tests.social.money_support import idem, make_group

SELECTED = re.compile(r"\bselected\b")


@pytest.fixture(autouse=True)
def _needs_browser() -> None:
    b.require_browser()


@pytest.fixture
async def server(app: Any) -> Any:
    async with b.serve(app) as base:
        yield base


@pytest.fixture
async def chrome() -> Any:
    async with b.chromium() as browser:
        yield browser


async def _expect(locator: Any, **kw: Any) -> None:
    from playwright.async_api import expect

    for name, value in kw.items():
        args = value if isinstance(value, tuple) else (value,)
        await getattr(expect(locator), name)(*args)


async def test_sign_in_with_the_code_and_sign_out(server, chrome, users):
    adv = await users.make("刘洋", roles="advisor,user")
    page = await b.new_page(chrome)
    await page.goto(server + "/console/advisor")
    assert "/console/login" in page.url  # no session: to sign-in, and back afterwards
    await b.sign_in(page, server, adv.phone, shot="01-login-code")
    assert page.url.endswith("/console/advisor")
    await _expect(page.locator("[data-testid=staff-name]"), to_have_text="刘洋")
    assert b.is_cjk(await b.rendered_fonts(page, "h1")), "Chinese must render with a CJK font"
    await page.click("[data-testid=sign-out]")
    await page.wait_for_url("**/console/login?bye=1")
    await _expect(page.locator(".notice"), to_have_text="已退出登录。")
    await b.screenshot(page, "02-signed-out")
    await page.goto(server + "/console/advisor")
    assert "/console/login" in page.url
    assert page.errors == []


async def test_an_advisor_chats_with_a_client_live(server, chrome, users, rt):
    adv = await users.make("刘洋", roles="advisor,user")
    lina = await users.make("李娜")
    async with rt.sessionmaker() as db:
        await advisors.assign(db, rt, client_id=lina.id, advisor_id=adv.id)
        conv = await advisors.client_conversation(db, rt, advisor_id=adv.id, client_id=lina.id)
    page = await b.new_page(chrome)
    await b.sign_in(page, server, adv.phone)
    await page.goto(f"{server}/console/advisor/clients/{lina.id}")
    await _expect(page.locator("body"), to_have_attribute=("data-live", "ready"))

    ws_url = server.replace("http://", "ws://") + f"/v1/ws?token={lina.token}"
    got: list[dict[str, Any]] = []
    async with websockets.connect(ws_url) as ws:
        assert json.loads(await ws.recv())["op"] == "ready"

        async def client_sees(text: str) -> dict[str, Any]:
            while True:
                frame = json.loads(await ws.recv())
                if frame.get("op") == "message":
                    got.append(frame)
                    if frame["message"]["body"].get("text") == text:
                        return frame

        log = page.locator("[data-testid=chat-log] .msg[data-seq]")
        turns = [("您好，李女士，我是刘洋。", "刘经理好！"), ("想了解定投吗？", "想，每月 1000 元可以吗？")]
        for n, (mine, theirs) in enumerate(turns):
            await page.fill("[data-testid=chat-input]", mine)
            await page.press("[data-testid=chat-input]", "Enter")
            await client_sees(mine)
            await ws.send(
                json.dumps(
                    {
                        "op": "send",
                        "cid": f"c{n}",
                        "conversation_id": conv,
                        "body": {"kind": "text", "text": theirs},
                    }
                )
            )
            await client_sees(theirs)
            await _expect(log, to_have_count=2 * (n + 1))
        await _expect(page.locator(".msg.pending"), to_have_count=0)
        texts = [
            t.strip()
            for t in await page.locator(
                "[data-testid=chat-log] .msg[data-seq] > span:first-child"
            ).all_text_contents()
        ]
        seqs = [int(s) for s in await log.evaluate_all("els => els.map(e => e.dataset.seq)")]
    expected = [t for pair in turns for t in pair]
    assert texts == expected  # the advisor sees each message once, in order
    assert seqs == [1, 2, 3, 4]
    assert [f["message"]["body"]["text"] for f in got] == expected  # and so does the client
    assert [f["seq"] for f in got] == [1, 2, 3, 4]
    # the page marked the client's messages read
    for _ in range(100):
        async with rt.sessionmaker() as db:
            read = await db.scalar(
                select(ConversationMember.last_read_seq).where(
                    ConversationMember.conversation_id == conv, ConversationMember.user_id == adv.id
                )
            )
        if read == 4:
            break
        await page.wait_for_timeout(50)  # the read frame is on its way; bounded
    assert read == 4
    await b.screenshot(page, "10-advisor-client-chat")
    assert b.is_cjk(await b.rendered_fonts(page, "[data-testid=chat-log] .msg[data-seq] .text"))
    assert page.errors == []


async def test_a_moderator_works_through_five_items_with_the_keyboard(server, chrome, users, rt, client):
    mod = await users.make("赵磊", roles="moderator,user")
    authors = [await users.make(f"作者{n}") for n in range(6)]
    texts = ["保本保息的好项目", "稳赚不赔，快来", "私下联系我", "零风险高收益", "加我微信详聊"]
    for who, text in zip(authors, texts, strict=False):
        await new_post(client, who, text=text)
    page = await b.new_page(chrome)
    await b.sign_in(page, server, mod.phone)
    await page.goto(server + "/console/moderation")
    rows = page.locator("#queue tbody tr[data-item]")
    await _expect(rows, to_have_count=5)
    await _expect(page.locator("body"), to_have_attribute=("data-live", "ready"))
    ids = await rows.evaluate_all("els => els.map(e => e.dataset.item)")
    await b.screenshot(page, "20-moderation-queue")

    async def press(key: str, row: int | None = None, decided: str | None = None) -> None:
        await page.keyboard.press(key)
        if decided is not None:
            await _expect(rows.nth(row), to_have_attribute=("data-decided", decided))
        elif row is not None:
            await _expect(rows.nth(row), to_have_class=SELECTED)

    await _expect(rows.nth(0), to_have_class=SELECTED)
    await press("a", 0, "approve")  # the selection moves on to the next open item by itself
    await _expect(rows.nth(1), to_have_class=SELECTED)
    await press("r", 1, "remove")
    await press("j", 3)  # skip the third for now
    await press("a", 3, "approve")
    await press("k", 3)
    await press("k", 2)
    await press("r", 2, "remove")
    await _expect(rows.nth(4), to_have_class=SELECTED)
    await press("a", 4, "approve")
    await _expect(page.locator('[data-count="pending"]'), to_have_text="0")

    # a new item arrives without a reload
    await new_post(client, authors[5], text="年化收益20%，稳赚")
    await _expect(rows, to_have_count=6)
    await _expect(page.locator('[data-count="pending"]'), to_have_text="1")
    await b.screenshot(page, "21-moderation-queue-decided")

    async with rt.sessionmaker() as db:
        decided = {
            i.item.id: i for i in (await moderation.queue(db, limit=10, cursor=None, state="approved")).items
        }
        removed = {
            i.item.id for i in (await moderation.queue(db, limit=10, cursor=None, state="removed")).items
        }
    assert set(decided) == {ids[0], ids[3], ids[4]}
    assert removed == {ids[1], ids[2]}
    assert page.errors == []


async def test_term_lists_edited_with_a_preview(server, chrome, users, rt):
    mod = await users.make("赵磊", roles="moderator,user")
    page = await b.new_page(chrome)
    await b.sign_in(page, server, mod.phone)
    await page.goto(server + "/console/moderation/terms")
    await page.click("#add-category")
    new = page.locator("fieldset.term-cat").last
    await new.locator("input[name=name]").fill("spam")
    await new.locator("select[name=action]").select_option("block")
    await new.locator("textarea[name=terms]").fill("刷单\n返利")
    await page.fill("[data-testid=preview-text]", "新品刷单返利，加我微信 abcdef123")
    await page.click("[data-testid=preview-run]")
    await _expect(page.locator("[data-testid=preview-action]"), to_have_attribute=("data-action", "block"))
    await _expect(page.locator("[data-testid=preview-action]"), to_have_text="结果：拦截")
    marks = page.locator("[data-testid=preview-marked] mark")
    assert await marks.all_text_contents() == ["刷单", "返利", "加我微信 abcdef123"]
    assert "spam" in await page.locator("[data-testid=preview-hits]").inner_text()
    async with rt.sessionmaker() as db:
        assert (await moderation.get_terms(db)).version == 0  # a preview saves nothing
    await b.screenshot(page, "30-term-lists-preview")
    await page.click("[data-testid=save-terms]")
    await _expect(page.locator("[data-testid=saved]"), to_have_text="已保存。")
    async with rt.sessionmaker() as db:
        terms = await moderation.get_terms(db)
    assert terms.version == 1 and terms.config["spam"] == {"action": "block", "terms": ["刷单", "返利"]}
    assert page.errors == []


async def test_the_dashboard_draws_its_charts_with_chinese_labels(server, chrome, users, rt, client):
    admin = await users.make("管理员", roles="admin,user")
    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob")
    await users.friends(alice, bob)
    conv = await make_group(rt, [alice, bob])
    t0 = rt.clock.now() - timedelta(minutes=5)
    # This worker's baseline: what the process counted before this test lands out of the window.
    await timeseries.sample(rt, now=t0 - timedelta(hours=3))
    for n in range(3):
        await client.post(
            f"/v1/conversations/{conv}/messages",
            json={"cid": f"m{n}", "body": {"kind": "text", "text": "早上好"}},
            headers=alice.headers,
        )
    r = await client.post(
        "/v1/red-packets",
        json={"conversation_id": conv, "total_fen": 100, "count": 1, "mode": "random"},
        headers=idem(alice),
    )
    await client.post(f"/v1/red-packets/{r.json()['id']}/grab", headers=idem(bob))
    await new_post(client, bob, text="保本保息")
    await measure_queue(rt)
    await timeseries.sample(rt, now=t0 + timedelta(minutes=2))

    page = await b.new_page(chrome)
    await b.sign_in(page, server, admin.phone)
    assert page.url.endswith("/console/ops")
    charts = page.locator("[data-testid=charts] figure[data-chart] svg")
    await _expect(charts, to_have_count=9)
    titles = await page.locator("[data-testid=charts] svg .title").all_text_contents()
    for title in (
        "每秒消息数",
        "红包发出与抢到",
        "转账与过期退款",
        "收取能量（克）",
        "审核队列长度",
        "WebSocket 连接数",
        "错误率（%）",
        "各路由族 p99 延迟（毫秒）",
    ):
        assert title in titles, (title, titles)
    legends = await page.locator("[data-chart=red_packets] svg .legends").all_text_contents()
    assert "发出" in legends[0] and "抢到" in legends[0]
    x_labels = await page.locator("[data-chart=messages] svg .axis.x text").all_text_contents()
    assert any(":" in x for x in x_labels)  # HH:MM
    assert await page.locator("[data-figure=queue_depth] .figure").inner_text() == "1"
    assert await page.locator("[data-figure=red_packet_grabs] .figure").inner_text() == "1"
    assert b.is_cjk(await b.rendered_fonts(page, "[data-chart=messages] svg .title"))
    assert await page.locator("svg script").count() == 0  # nothing fetched, nothing run
    await b.screenshot(page, "40-ops-dashboard-hour")
    await page.click("[data-testid=windows] >> text=最近一天")
    await _expect(charts, to_have_count=9)
    await b.screenshot(page, "41-ops-dashboard-day")
    assert page.errors == []


async def test_every_page_renders_in_chinese_on_laptop_and_tablet(server, chrome, users, rt, client):
    """A screenshot of each page (laptop and tablet), drawn with a CJK font, without
    sideways scrolling on a tablet and without script or CSP errors."""
    adv = await users.make("刘洋", roles="advisor,user")
    mod = await users.make("赵磊", roles="moderator,user")
    admin = await users.make("管理员", roles="admin,user")
    lina = await users.make("李娜")
    async with rt.sessionmaker() as db:
        await advisors.assign(db, rt, client_id=lina.id, advisor_id=adv.id)
    await client.post(
        f"/v1/advisor/clients/{lina.id}/notes", json={"text": "偏好稳健型产品"}, headers=adv.headers
    )
    await new_post(client, lina, text="保本保息，加我微信 abc123456")
    async with rt.sessionmaker() as db:
        [item] = (await moderation.queue(db, limit=1, cursor=None)).items
    pages = [
        (
            adv,
            [
                ("advisor-clients", "/console/advisor"),
                ("advisor-inbox", "/console/advisor/inbox"),
                ("advisor-client", f"/console/advisor/clients/{lina.id}"),
                ("advisor-denied-ops", "/console/ops"),
            ],
        ),
        (
            mod,
            [
                ("moderation-queue", "/console/moderation"),
                ("moderation-item", f"/console/moderation/items/{item.item.id}"),
                ("moderation-terms", "/console/moderation/terms"),
                ("moderation-audit", "/console/moderation/audit"),
                ("moderator-denied-advisor", f"/console/advisor/clients/{lina.id}"),
            ],
        ),
        (
            admin,
            [
                ("ops-dashboard", "/console/ops"),
                ("ops-advisors", "/console/ops/advisors"),
                ("ops-staff-audit", "/console/ops/audit"),
            ],
        ),
    ]
    for who, visits in pages:
        for device, viewport in (("laptop", b.LAPTOP), ("tablet", b.TABLET)):
            page = await b.new_page(chrome, viewport=viewport)
            await b.sign_in(page, server, who.phone)
            for name, path in visits:
                response = await page.goto(server + path)
                assert response is not None
                denied = "denied" in name
                assert response.status == (403 if denied else 200), (path, response.status)
                assert b.is_cjk(await b.rendered_fonts(page, "main h1, main h2")), path
                if device == "tablet":
                    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                    assert overflow <= 1, (path, overflow)
                await b.screenshot(page, f"50-{name}-{device}")
            errors = [e for e in page.errors if "status of 403" not in e]  # the denied pages themselves
            assert errors == [], errors
            await page.context.close()
    en = await b.new_page(chrome, lang="en-US")
    await b.sign_in(en, server, mod.phone)
    await en.goto(server + "/console/moderation")
    await _expect(en.locator("h1"), to_have_text="Review queue")
    await b.screenshot(en, "51-moderation-queue-english")
