"""Cards and funding (issue 12 item 1, ``shared/API.md`` "Cards and funding"): a card is
linked only when the bank vouches for it, wallet money comes only from the bank, and the
user-facing top-up is a capped dev/test convenience, absent in prod."""

from __future__ import annotations

import base64
import json

import anyio
import pytest

from app.auth import cards
from tests.app.test_auth import STRONG
from tests.app.test_hardening import served
from tests.support.cards import card_token, service_headers
from tests.support.people import error_code


async def link(client, p, token, last4="4321"):
    return await client.post("/v1/me/cards", json={"card_token": token, "last4": last4}, headers=p.headers)


async def me(client, p):
    return (await client.get("/v1/me", headers=p.headers)).json()


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# --- POST /v1/me/cards: a token the bank signed -----------------------------------------


async def test_a_made_up_card_token_links_nothing(client, users):
    alice = await users.make("alice", cardholder=False)
    for token in ["totally-fake-0", "abc.defgh", "x" * 200, "........", "é" * 20 + "." + "z" * 10]:
        r = await link(client, alice, token, "0000")
        assert r.status_code == 422 and error_code(r) == "invalid_card_token", (token, r.text)
    assert (await me(client, alice))["is_cardholder"] is False


async def test_a_token_signed_with_another_key_or_altered_is_refused(client, rt, users):
    alice = await users.make("alice", cardholder=False)
    forged = card_token(rt, alice.id, key="not-the-bank-key-0123456789abcdef")
    assert error_code(await link(client, alice, forged)) == "invalid_card_token"
    # A good token with the payload changed (another card) no longer matches its signature.
    payload, sig = card_token(rt, alice.id, card_ref="mine").split(".")
    claim = json.loads(base64.urlsafe_b64decode(payload + "=="))
    other = b64(json.dumps({**claim, "card_ref": "someone-elses"}).encode())
    assert error_code(await link(client, alice, f"{other}.{sig}")) == "invalid_card_token"
    # Padded base64 is not the format.
    assert error_code(await link(client, alice, f"{payload}=.{sig}")) == "invalid_card_token"
    assert (await me(client, alice))["is_cardholder"] is False


async def test_a_signed_payload_that_is_not_a_claim_is_refused(client, rt, users):
    alice = await users.make("alice", cardholder=False)
    key = rt.settings.card_token_key
    for claim in [
        [1, 2],
        {"card_ref": "c1", "user_id": alice.id},
        {"card_ref": "c1", "user_id": alice.id, "exp": "2099"},
        {"card_ref": "c1", "user_id": alice.id, "exp": True},
        {"card_ref": "bad ref\u0000", "user_id": alice.id, "exp": 4_102_444_800},
    ]:
        payload = b64(json.dumps(claim).encode())
        token = f"{payload}.{b64(cards._mac(key, payload))}"
        r = await link(client, alice, token)
        assert r.status_code == 422 and error_code(r) == "invalid_card_token", claim


async def test_another_users_token_is_refused(client, rt, users):
    alice = await users.make("alice", cardholder=False)
    mallory = await users.make("mallory", cardholder=False)
    r = await link(client, mallory, card_token(rt, alice.id))
    assert r.status_code == 422 and error_code(r) == "invalid_card_token"
    assert (await me(client, mallory))["is_cardholder"] is False


async def test_an_expired_token_is_refused_by_the_business_clock(client, rt, users):
    alice = await users.make("alice", cardholder=False)
    token = card_token(rt, alice.id, valid_s=60)
    await rt.advance_clock(60)  # exp is now: expired
    r = await link(client, alice, token)
    assert r.status_code == 422 and error_code(r) == "invalid_card_token"
    assert (await link(client, alice, card_token(rt, alice.id, valid_s=60))).status_code == 201


async def test_one_card_one_user(client, rt, users):
    alice = await users.make("alice", cardholder=False)
    bob = await users.make("bob", cardholder=False)
    assert (await link(client, alice, card_token(rt, alice.id, card_ref="card-X"))).status_code == 201
    r = await link(client, bob, card_token(rt, bob.id, card_ref="card-X"))
    assert r.status_code == 409 and error_code(r) == "conflict"
    assert (await me(client, bob))["is_cardholder"] is False


# --- POST /v1/bank/cards: the bank's core ------------------------------------------------


async def test_the_bank_links_cards_idempotently_by_card_ref(client, rt, users):
    alice = await users.make("alice", cardholder=False)
    bob = await users.make("bob", cardholder=False)
    body = {"user_id": alice.id, "card_ref": "bank-ref-001", "last4": "6201"}
    first = await client.post("/v1/bank/cards", json=body, headers=service_headers(rt))
    assert first.status_code == 201, first.text
    assert first.json()["is_cardholder"] is True and first.json()["card_ref"] == "bank-ref-001"
    again = await client.post("/v1/bank/cards", json=body, headers=service_headers(rt))
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    r = await client.post("/v1/bank/cards", json={**body, "user_id": bob.id}, headers=service_headers(rt))
    assert r.status_code == 409 and error_code(r) == "conflict"
    assert (await me(client, alice))["is_cardholder"] is True
    assert (await me(client, bob))["is_cardholder"] is False


async def test_bank_routes_need_the_service_token(client, rt, users):
    alice = await users.make("alice", cardholder=False)
    card = {"user_id": alice.id, "card_ref": "r1", "last4": "6201"}
    topup = {"bank_ref": "t1", "user_id": alice.id, "amount_fen": 100}
    for path, body in [("/v1/bank/cards", card), ("/v1/bank/topups", topup)]:
        assert (await client.post(path, json=body)).status_code == 401
        assert (await client.post(path, json=body, headers=alice.headers)).status_code == 401
    assert (await me(client, alice))["is_cardholder"] is False


async def test_the_bank_cannot_link_a_card_to_nobody(client, rt):
    body = {"user_id": "u_nobody", "card_ref": "r1", "last4": "6201"}
    r = await client.post("/v1/bank/cards", json=body, headers=service_headers(rt))
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = await client.post("/v1/bank/cards", json={**body, "card_ref": "a b"}, headers=service_headers(rt))
    assert r.status_code == 422


# --- POST /v1/bank/topups ----------------------------------------------------------------


async def test_the_bank_tops_up_a_cardholder_once_per_bank_ref(client, rt, users):
    alice = await users.make("alice")
    body = {"bank_ref": "bank-topup-1", "user_id": alice.id, "amount_fen": 5_000}
    first = await client.post("/v1/bank/topups", json=body, headers=service_headers(rt))
    assert first.status_code == 201, first.text
    assert first.headers["cache-control"] == "no-store"
    again = await client.post("/v1/bank/topups", json=body, headers=service_headers(rt))
    assert again.status_code == 200 and again.json() == first.json()
    assert await users.balance(alice) == 5_000
    r = await client.post("/v1/bank/topups", json={**body, "amount_fen": 6_000}, headers=service_headers(rt))
    assert r.status_code == 409 and error_code(r) == "conflict"
    assert await users.balance(alice) == 5_000
    lines = (await client.get("/v1/wallet/statement", headers=alice.headers)).json()["items"]
    assert [(line["kind"], line["amount_fen"]) for line in lines] == [("topup", 5_000)]


async def test_concurrent_bank_topups_with_one_ref_pay_once(client, rt, users):
    alice = await users.make("alice")
    body = {"bank_ref": "bank-topup-race", "user_id": alice.id, "amount_fen": 700}
    statuses: list[int] = []

    async def pay() -> None:
        statuses.append(
            (await client.post("/v1/bank/topups", json=body, headers=service_headers(rt))).status_code
        )

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(pay)
    assert sorted(statuses) == [200] * 7 + [201]
    assert await users.balance(alice) == 700


async def test_bank_topups_need_a_cardholder(client, rt, users):
    bob = await users.make("bob", cardholder=False)
    body = {"bank_ref": "bank-topup-2", "user_id": bob.id, "amount_fen": 100}
    r = await client.post("/v1/bank/topups", json=body, headers=service_headers(rt))
    assert r.status_code == 409 and error_code(r) == "conflict"
    assert r.json()["error"]["details"]["reason"] == "no_card"
    r = await client.post(
        "/v1/bank/topups", json={**body, "user_id": "u_nobody"}, headers=service_headers(rt)
    )
    assert r.status_code == 404
    assert await users.balance(bob) == 0
    # The same reference works once the card is linked: a refused top-up was not kept.
    await users.make_cardholder(bob)
    r = await client.post("/v1/bank/topups", json=body, headers=service_headers(rt))
    assert r.status_code == 201 and await users.balance(bob) == 100


# --- POST /v1/wallet/topup: dev and test only, capped per day -----------------------------


async def test_the_dev_topup_is_capped_per_user_per_business_day(client, rt, users):
    alice = await users.make("alice")
    cap = rt.settings.dev_topup_daily_max_fen
    most = rt.settings.topup_max_fen
    done = 0
    for i in range(cap // most):
        r = await client.post(
            "/v1/wallet/topup",
            json={"amount_fen": most},
            headers={**alice.headers, "Idempotency-Key": f"k{i}"},
        )
        assert r.status_code == 200, r.text
        done += most
    r = await client.post(
        "/v1/wallet/topup",
        json={"amount_fen": cap - done + 1},
        headers={**alice.headers, "Idempotency-Key": "over"},
    )
    assert r.status_code == 409 and error_code(r) == "limit_exceeded"
    assert await users.balance(alice) == done
    await rt.advance_clock(24 * 3600)
    r = await client.post(
        "/v1/wallet/topup", json={"amount_fen": 1}, headers={**alice.headers, "Idempotency-Key": "next-day"}
    )
    assert r.status_code == 200


async def test_in_prod_the_user_topup_is_absent_and_the_bank_routes_stay(rt, users):
    async with served(rt, env="prod", **STRONG) as c:
        alice = await users.make("alice")
        headers = {**alice.headers, "Idempotency-Key": "k"}
        r = await c.post("/v1/wallet/topup", json={"amount_fen": 1_000_000}, headers=headers)
        assert r.status_code == 404 and error_code(r) == "not_found"
        paths = (await c.get("/openapi.json", headers=service_headers(rt))).json()["paths"]
        assert "/v1/wallet/topup" not in paths
        assert "/v1/bank/cards" in paths and "/v1/bank/topups" in paths
        body = {"bank_ref": "prod-1", "user_id": alice.id, "amount_fen": 100}
        assert (await c.post("/v1/bank/topups", json=body, headers=service_headers(rt))).status_code == 201
    assert await users.balance(alice) == 100


# --- referral rewards only for a verified card -------------------------------------------


async def test_fake_cards_earn_the_referrer_nothing(client, rt, users):
    old = await users.make("old")
    newcomers = [await users.make(f"new{i}", cardholder=False) for i in range(3)]
    code = (await client.get("/v1/referrals/me", headers=old.headers)).json()["code"]
    for new in newcomers:
        assert (
            await client.post("/v1/referrals/redeem", json={"code": code}, headers=new.headers)
        ).status_code == 201
        r = await link(client, new, f"totally-fake-{new.id}", "0000")
        assert r.status_code == 422
    assert await users.balance(old) == 0
    # A verified card pays the reward.
    assert (await link(client, newcomers[0], card_token(rt, newcomers[0].id))).status_code == 201
    assert await users.balance(old) == rt.settings.referral_reward_fen


@pytest.mark.parametrize("secret", ["card_token_key"])
def test_the_card_token_key_is_a_prod_secret(secret):
    from app.config import Settings

    with pytest.raises(ValueError, match="QUANZI_CARD_TOKEN_KEY"):
        Settings(env="prod", **{**STRONG, secret: "short"})
