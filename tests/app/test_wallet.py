from __future__ import annotations

import pytest

from tests.support.people import error_code


async def test_topup_moves_money_from_settlement_into_my_wallet(client, users):
    alice = await users.make("alice")
    r = await client.post(
        "/v1/wallet/topup", json={"amount_fen": 12_345}, headers={**alice.headers, "Idempotency-Key": "k1"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["balance_fen"] == 12_345
    assert (await client.get("/v1/wallet", headers=alice.headers)).json() == {
        "balance_fen": 12_345,
        "currency": "CNY",
    }
    lines = (await client.get("/v1/wallet/statement", headers=alice.headers)).json()
    assert [line["amount_fen"] for line in lines["items"]] == [12_345]
    assert lines["items"][0]["kind"] == "topup"
    assert lines["next_cursor"] is None


async def test_topup_requires_a_card(client, users):
    bob = await users.make("bob", cardholder=False)
    r = await client.post(
        "/v1/wallet/topup", json={"amount_fen": 100}, headers={**bob.headers, "Idempotency-Key": "k"}
    )
    assert r.status_code == 409
    assert error_code(r) == "conflict"


@pytest.mark.parametrize("amount", [0, -5, 1.5, "100", None, 10**12])
async def test_topup_rejects_bad_amounts(client, users, amount):
    alice = await users.make("alice")
    r = await client.post(
        "/v1/wallet/topup", json={"amount_fen": amount}, headers={**alice.headers, "Idempotency-Key": "k"}
    )
    assert r.status_code == 422
    assert error_code(r) == "validation_error"
    assert (await client.get("/v1/wallet", headers=alice.headers)).json()["balance_fen"] == 0


async def test_topup_without_idempotency_key_is_refused(client, users):
    alice = await users.make("alice")
    r = await client.post("/v1/wallet/topup", json={"amount_fen": 100}, headers=alice.headers)
    assert r.status_code == 422
    r = await client.post(
        "/v1/wallet/topup", json={"amount_fen": 100}, headers={**alice.headers, "Idempotency-Key": "x" * 129}
    )
    assert r.status_code == 422


async def test_statement_pages_newest_first_without_gaps(client, users):
    alice = await users.make("alice")
    for i in range(1, 6):
        await client.post(
            "/v1/wallet/topup", json={"amount_fen": i}, headers={**alice.headers, "Idempotency-Key": f"k{i}"}
        )
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/wallet/statement", params=params, headers=alice.headers)).json()
        seen += [line["amount_fen"] for line in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [5, 4, 3, 2, 1]
    r = await client.get("/v1/wallet/statement", params={"cursor": "%%%"}, headers=alice.headers)
    assert r.status_code == 422
    r = await client.get("/v1/wallet/statement", params={"limit": 101}, headers=alice.headers)
    assert r.status_code == 422


async def test_wallet_and_statement_are_private(client, users):
    alice = await users.make("alice", balance_fen=500)
    bob = await users.make("bob")
    assert (await client.get("/v1/wallet", headers=bob.headers)).json()["balance_fen"] == 0
    assert (await client.get("/v1/wallet/statement", headers=bob.headers)).json()["items"] == []
    assert (await client.get("/v1/wallet")).status_code == 401
    assert (await users.balance(alice)) == 500
