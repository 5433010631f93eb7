from __future__ import annotations

import anyio

from app.ledger import service as ledger
from tests.support.people import error_code


async def test_same_key_same_body_replays_the_first_response(client, users):
    alice = await users.make("alice")
    h = {**alice.headers, "Idempotency-Key": "topup-1"}
    first = await client.post("/v1/wallet/topup", json={"amount_fen": 100}, headers=h)
    again = await client.post("/v1/wallet/topup", json={"amount_fen": 100}, headers=h)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await users.balance(alice) == 100


async def test_same_key_different_body_is_conflict(client, users):
    alice = await users.make("alice")
    h = {**alice.headers, "Idempotency-Key": "topup-1"}
    await client.post("/v1/wallet/topup", json={"amount_fen": 100}, headers=h)
    r = await client.post("/v1/wallet/topup", json={"amount_fen": 200}, headers=h)
    assert r.status_code == 409
    assert error_code(r) == "conflict"
    assert await users.balance(alice) == 100


async def test_keys_belong_to_their_user(client, users):
    alice = await users.make("alice")
    bob = await users.make("bob")
    await client.post(
        "/v1/wallet/topup", json={"amount_fen": 100}, headers={**alice.headers, "Idempotency-Key": "k"}
    )
    r = await client.post(
        "/v1/wallet/topup", json={"amount_fen": 300}, headers={**bob.headers, "Idempotency-Key": "k"}
    )
    assert r.status_code == 200
    assert await users.balance(bob) == 300


async def test_an_error_outcome_is_replayed_too(client, users):
    bob = await users.make("bob", cardholder=False)
    h = {**bob.headers, "Idempotency-Key": "k"}
    first = await client.post("/v1/wallet/topup", json={"amount_fen": 100}, headers=h)
    await users.make_cardholder(bob)
    again = await client.post("/v1/wallet/topup", json={"amount_fen": 100}, headers=h)
    assert first.status_code == again.status_code == 409
    assert first.json() == again.json()


async def test_fifty_concurrent_duplicates_have_one_effect(client, rt, users):
    alice = await users.make("alice")
    h = {**alice.headers, "Idempotency-Key": "storm"}
    results = []

    async def send() -> None:
        results.append(await client.post("/v1/wallet/topup", json={"amount_fen": 777}, headers=h))

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(send)
    assert {r.status_code for r in results} == {200}
    assert len({r.json()["transaction_id"] for r in results}) == 1
    assert await users.balance(alice) == 777
    async with rt.sessionmaker() as db:
        assert (await ledger.audit(db)).ok


async def test_keys_are_kept_at_least_a_day_then_swept(client, rt, users):
    from app.idempotency.service import sweep

    alice = await users.make("alice")
    h = {**alice.headers, "Idempotency-Key": "old"}
    await client.post("/v1/wallet/topup", json={"amount_fen": 100}, headers=h)
    rt.clock.advance(24 * 3600)
    assert await sweep(rt) == 0
    assert (await client.post("/v1/wallet/topup", json={"amount_fen": 100}, headers=h)).headers.get(
        "Idempotent-Replayed"
    ) == "true"
    rt.clock.advance(25 * 3600)
    assert await sweep(rt) == 1
    r = await client.post("/v1/wallet/topup", json={"amount_fen": 100}, headers=h)
    assert r.status_code == 200 and "Idempotent-Replayed" not in r.headers
    assert await users.balance(alice) == 200
