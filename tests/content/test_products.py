"""Product cards by id from the catalogue (issue 17.5): suitability by risk profile in
posts, chat and the catalogue; admin CRUD; clicks and conversions attributed to the post,
its author and the campaign; the creators board counts conversions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.content.helpers import new_post
from tests.content.products_support import assess, catalogue, product
from tests.support.cards import service_headers
from tests.support.people import error_code


@pytest.fixture
async def world(client, users, rt):
    admin = await users.make("admin", roles="admin,user")
    await catalogue(client, admin)
    author = await users.make("author", roles="advisor,user")
    bold = await users.make("bold")  # C5
    careful = await users.make("careful")  # C2
    unassessed = await users.make("unassessed")
    await assess(rt, bold, "C5")
    await assess(rt, careful, "C2")
    return admin, author, bold, careful, unassessed


async def test_a_post_embeds_a_product_by_id_rendered_from_the_catalogue_per_reader(client, world):
    admin, author, bold, careful, unassessed = world
    post = await new_post(client, author, text="高风险高波动，谨慎参与", product={"product_id": "fund-r5"})
    r = await client.get(f"/v1/posts/{post['id']}", headers=bold.headers)
    card = r.json()["product"]
    assert card["available"] is True and card["risk_level"] == "R5" and card["title"] == "产品 fund-r5"
    assert card["link"] == "https://bank.example/products/fund-r5" and "基金有风险" in card["compliance_text"]
    for who in (careful, unassessed):
        got = (await client.get(f"/v1/posts/{post['id']}", headers=who.headers)).json()["product"]
        assert got == {
            "product_id": "fund-r5",
            "available": False,
            "unavailable_reason": "risk_profile",
            "notice": "not available for your risk profile",
            "notice_zh": got["notice_zh"],
            "kind": None,
            "title": None,
            "issuer": None,
            "summary": None,
            "risk_level": None,
            "compliance_text": None,
            "link": None,
        }
        for tab in ("latest", "hot", "for_you"):
            items = (await client.get(f"/v1/feed?tab={tab}", headers=who.headers)).json()["items"]
            assert all(i["product"] is None or not i["product"]["available"] for i in items)
            assert "fund-r5" not in str(
                [i["product"] for i in items if i["product"] and i["product"]["link"]]
            )
    # the author (not assessed) sees the card they embedded as it is
    mine = (await client.get(f"/v1/posts/{post['id']}", headers=author.headers)).json()["product"]
    assert mine["available"] is True and mine["risk_level"] == "R5"
    # an unassessed member is C1: R1 only
    dep = await new_post(client, author, text="存款", product={"product_id": "dep-r1"})
    assert (await client.get(f"/v1/posts/{dep['id']}", headers=unassessed.headers)).json()["product"][
        "available"
    ]
    # withdrawn: a placeholder for everyone
    assert (await client.delete("/v1/admin/products/fund-r5", headers=admin.headers)).status_code == 204
    got = (await client.get(f"/v1/posts/{post['id']}", headers=bold.headers)).json()["product"]
    assert got["available"] is False and got["unavailable_reason"] == "withdrawn" and got["link"] is None


@pytest.mark.parametrize(
    "product_field",
    [
        {"product_id": "no-such-product"},
        {"product_id": "fund-r3", "title": "t", "link": "https://bank.example/x"},  # free-form: gone
        {"product_id": ""},
        "fund-r3",
    ],
)
async def test_a_post_may_embed_only_a_catalogue_product_by_id(client, world, product_field):
    _, author, *_ = world
    r = await client.post(
        "/v1/posts", json={"kind": "post", "text": "x", "product": product_field}, headers=author.headers
    )
    assert r.status_code == 422, r.text
    assert error_code(r) == "validation_error"


async def test_the_catalogue_lists_only_suitable_products(client, world):
    _, _, bold, careful, _unassessed = world
    ids = lambda r: [p["product_id"] for p in r.json()["items"]]  # noqa: E731
    assert ids(await client.get("/v1/products", headers=bold.headers)) == ["dep-r1", "fund-r3", "fund-r5"]
    assert ids(await client.get("/v1/products", headers=careful.headers)) == ["dep-r1"]
    assert ids(await client.get("/v1/products?kind=fund", headers=bold.headers)) == ["fund-r3", "fund-r5"]
    one = await client.get("/v1/products/fund-r5", headers=careful.headers)
    assert one.status_code == 200 and one.json()["available"] is False and one.json()["title"] is None
    assert (await client.get("/v1/products/nope", headers=careful.headers)).status_code == 404
    assert (await client.get("/v1/products")).status_code == 401
    assert (await client.get("/v1/products?kind=stocks", headers=bold.headers)).status_code == 422


async def test_admin_crud_checks_compliance_text_and_links(client, world):
    admin, _author, bold, *_ = world
    assert (
        await client.post("/v1/admin/products", json=product("x1"), headers=bold.headers)
    ).status_code == 403
    assert (await client.get("/v1/admin/products")).status_code == 401
    missing = {**product("x2"), "compliance_text": "稳赚不赔"}
    r = await client.post("/v1/admin/products", json=missing, headers=admin.headers)
    assert r.status_code == 422 and r.json()["error"]["details"]["reason"] == "compliance_text_incomplete"
    evil = {**product("x3"), "link": "https://evil.example/x"}
    r = await client.post("/v1/admin/products", json=evil, headers=admin.headers)
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "link"
    assert (
        await client.post("/v1/admin/products", json=product("fund-r3"), headers=admin.headers)
    ).status_code == 409
    r = await client.post(
        "/v1/admin/products", json={**product("x4"), "risk_level": "R6"}, headers=admin.headers
    )
    assert r.status_code == 422
    r = await client.patch(
        "/v1/admin/products/fund-r3", json={"risk_level": "R2", "name": "改名"}, headers=admin.headers
    )
    assert r.status_code == 200 and r.json()["risk_level"] == "R2" and r.json()["name"] == "改名"
    r = await client.patch(
        "/v1/admin/products/fund-r3", json={"compliance_text": "无"}, headers=admin.headers
    )
    assert r.status_code == 422
    assert (await client.patch("/v1/admin/products/nope", json={}, headers=admin.headers)).status_code == 404
    listed = (await client.get("/v1/admin/products?limit=2", headers=admin.headers)).json()
    assert [p["id"] for p in listed["items"]] == ["dep-r1", "fund-r3"]
    rest = await client.get(f"/v1/admin/products?cursor={listed['next_cursor']}", headers=admin.headers)
    assert [p["id"] for p in rest.json()["items"]] == ["fund-r5"] and rest.json()["next_cursor"] is None


async def test_a_click_then_a_purchase_is_attributed_to_the_post_its_author_and_campaign(client, world, rt):
    _, author, bold, _careful, _ = world
    post = await new_post(client, author, text="定投心得", product={"product_id": "fund-r3"})
    r = await client.post(
        "/v1/products/fund-r3/click",
        json={"post_id": post["id"], "campaign": "double11"},
        headers=bold.headers,
    )
    assert r.status_code == 201, r.text
    click = r.json()
    assert click["link"] == "https://bank.example/products/fund-r3" and click["campaign"] == "double11"
    rt.clock.advance(3600)
    purchase = {
        "bank_ref": "B-0001",
        "user_id": bold.id,
        "product_id": "fund-r3",
        "amount_fen": 1_000_00,
        "occurred_at": rt.clock.now().isoformat(),
    }
    r = await client.post("/v1/bank/conversions", json=purchase, headers=service_headers(rt))
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["attributed"] and got["post_id"] == post["id"] and got["author_id"] == author.id
    assert got["campaign"] == "double11" and got["click_id"] == click["click_id"] and got["replay"] is False
    # idempotent by the bank's reference
    again = await client.post("/v1/bank/conversions", json=purchase, headers=service_headers(rt))
    assert again.status_code == 200 and again.json() == {**got, "replay": True}
    other = {**purchase, "amount_fen": 5}
    assert (
        await client.post("/v1/bank/conversions", json=other, headers=service_headers(rt))
    ).status_code == 409
    # the creators board counts the conversion (20 points)
    board = (
        await client.get("/v1/leaderboards/creators?scope=global&period=week", headers=bold.headers)
    ).json()
    assert [(i["user_id"], i["score"]) for i in board["items"]] == [(author.id, 20)]
    # a purchase outside the attribution window (7 days) after the click is not attributed
    rt.clock.advance(8 * 86400)
    late = {**purchase, "bank_ref": "B-0002", "occurred_at": rt.clock.now().isoformat()}
    r = await client.post("/v1/bank/conversions", json=late, headers=service_headers(rt))
    assert r.status_code == 200 and r.json()["attributed"] is False and r.json()["author_id"] is None


async def test_last_click_wins(client, world, rt, users):
    _, author, bold, _, _ = world
    second = await users.make("second", roles="editor,user")
    p1 = await new_post(client, author, text="a", product={"product_id": "fund-r3"})
    p2 = await new_post(client, second, text="b", product={"product_id": "fund-r3"})
    await client.post("/v1/products/fund-r3/click", json={"post_id": p1["id"]}, headers=bold.headers)
    rt.clock.advance(60)
    await client.post("/v1/products/fund-r3/click", json={"post_id": p2["id"]}, headers=bold.headers)
    rt.clock.advance(60)
    body = {
        "bank_ref": "B-9",
        "user_id": bold.id,
        "product_id": "fund-r3",
        "amount_fen": 1,
        "occurred_at": rt.clock.now().isoformat(),
    }
    r = await client.post("/v1/bank/conversions", json=body, headers=service_headers(rt))
    assert r.json()["post_id"] == p2["id"] and r.json()["author_id"] == second.id


async def test_bad_clicks_and_conversions_are_refused(client, world, rt, users):
    _, author, bold, careful, _ = world
    post = await new_post(client, author, text="x", product={"product_id": "fund-r3"})
    plain = await new_post(client, author, text="no product")
    cases = [
        ("fund-r3", {"post_id": post["id"]}, careful, 404),  # above C2: not for them
        ("fund-r3", {"post_id": post["id"], "message_id": "m_1"}, bold, 422),
        ("fund-r3", {"post_id": plain["id"]}, bold, 422),
        ("fund-r3", {"post_id": "p_nope"}, bold, 404),
        ("fund-r3", {"message_id": "m_nope"}, bold, 404),
        ("fund-r3", {"campaign": "bad campaign!"}, bold, 422),
        ("fund-r3", {"extra": 1}, bold, 422),
        ("nope", {}, bold, 404),
    ]
    for pid, body, who, status in cases:
        r = await client.post(f"/v1/products/{pid}/click", json=body, headers=who.headers)
        assert r.status_code == status, (body, r.text)
    assert (await client.post("/v1/products/fund-r3/click", json={})).status_code == 401
    good = {
        "bank_ref": "B-1",
        "user_id": bold.id,
        "product_id": "fund-r3",
        "amount_fen": 1,
        "occurred_at": rt.clock.now().isoformat(),
    }
    assert (await client.post("/v1/bank/conversions", json=good)).status_code == 401
    assert (await client.post("/v1/bank/conversions", json=good, headers=bold.headers)).status_code == 401
    for bad, status in [
        ({**good, "amount_fen": -1}, 422),
        ({**good, "occurred_at": "2026-01-01T00:00:00"}, 422),
        ({**good, "product_id": "nope"}, 404),
        ({**good, "user_id": "u_nope"}, 404),
    ]:
        r = await client.post("/v1/bank/conversions", json=bad, headers=service_headers(rt))
        assert r.status_code == status, r.text


async def test_a_member_cannot_click_through_someone_elses_chat(client, world, rt, users):
    """A message context must be a message in one of the clicker's conversations."""
    from social.advisors import service as advisors

    _, adv, bold, careful, _ = world
    async with rt.sessionmaker() as db:
        await advisors.assign(db, rt, client_id=bold.id, advisor_id=adv.id)
        await advisors.assign(db, rt, client_id=careful.id, advisor_id=adv.id)
    r = await client.post(
        f"/v1/advisor/clients/{bold.id}/products", json={"product_id": "fund-r3"}, headers=adv.headers
    )
    assert r.status_code == 201, r.text
    message_id = r.json()["message_id"]
    # the advisor may not push an unsuitable product to a C2 client
    r = await client.post(
        f"/v1/advisor/clients/{careful.id}/products", json={"product_id": "fund-r3"}, headers=adv.headers
    )
    assert r.status_code == 422 and r.json()["error"]["details"]["reason"] == "unsuitable"
    r = await client.post(
        f"/v1/advisor/clients/{bold.id}/products",
        json={"product_id": "fund-r3", "link": "https://evil.example"},
        headers=adv.headers,
    )
    assert r.status_code == 422
    stranger = await users.make("stranger")
    await assess(rt, stranger, "C5")
    r = await client.post(
        "/v1/products/fund-r3/click", json={"message_id": message_id}, headers=stranger.headers
    )
    assert r.status_code == 404
    r = await client.post("/v1/products/fund-r3/click", json={"message_id": message_id}, headers=bold.headers)
    assert r.status_code == 201
    body = {
        "bank_ref": "B-chat",
        "user_id": bold.id,
        "product_id": "fund-r3",
        "amount_fen": 100,
        "occurred_at": rt.clock.now().isoformat(),
    }
    r = await client.post("/v1/bank/conversions", json=body, headers=service_headers(rt))
    assert r.json()["message_id"] == message_id and r.json()["author_id"] == adv.id


async def test_chat_product_cards_follow_the_readers_risk_profile(client, world, rt):
    """Shared when suitable; if the client's assessment drops, the history shows the placeholder."""
    from social.advisors import service as advisors

    _, adv, bold, _, _ = world
    async with rt.sessionmaker() as db:
        await advisors.assign(db, rt, client_id=bold.id, advisor_id=adv.id)
    r = await client.post(
        f"/v1/advisor/clients/{bold.id}/products", json={"product_id": "fund-r5"}, headers=adv.headers
    )
    assert r.status_code == 201, r.text
    conv = r.json()["conversation_id"]
    msgs = (await client.get(f"/v1/conversations/{conv}/messages", headers=bold.headers)).json()["items"]
    assert msgs[-1]["kind"] == "product" and msgs[-1]["body"]["available"] is True
    assert msgs[-1]["body"]["link"] == "https://bank.example/products/fund-r5"
    await assess(rt, bold, "C3")
    # the advisor who shared it still sees the card they sent
    theirs = (await client.get(f"/v1/conversations/{conv}/messages", headers=adv.headers)).json()["items"]
    assert theirs[-1]["body"]["available"] is True
    msgs = (await client.get(f"/v1/conversations/{conv}/messages", headers=bold.headers)).json()["items"]
    body = msgs[-1]["body"]
    assert body["available"] is False and body["unavailable_reason"] == "risk_profile" and "link" not in body
    assert "title" not in body and body["product_id"] == "fund-r5"
    rt.clock.advance(timedelta(seconds=1).total_seconds())


async def test_the_same_purchase_reported_twice_at_once_is_recorded_and_credited_once(client, world, rt):
    import asyncio

    _, author, bold, _, _ = world
    post = await new_post(client, author, text="x", product={"product_id": "fund-r3"})
    await client.post("/v1/products/fund-r3/click", json={"post_id": post["id"]}, headers=bold.headers)
    body = {
        "bank_ref": "B-race",
        "user_id": bold.id,
        "product_id": "fund-r3",
        "amount_fen": 100,
        "occurred_at": rt.clock.now().isoformat(),
    }
    answers = await asyncio.gather(
        *(client.post("/v1/bank/conversions", json=body, headers=service_headers(rt)) for _ in range(4))
    )
    assert [r.status_code for r in answers] == [200] * 4
    assert sorted(r.json()["replay"] for r in answers) == [False, True, True, True]
    board = (
        await client.get("/v1/leaderboards/creators?scope=global&period=week", headers=bold.headers)
    ).json()
    assert [(i["user_id"], i["score"]) for i in board["items"]] == [(author.id, 20)]
