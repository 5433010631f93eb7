"""The real-server harness itself, and the ledger under real multi-process load."""

from __future__ import annotations

import anyio
import httpx
import pytest

from app.ledger import service as ledger
from tests.support.servers import running_servers


async def test_a_real_server_answers(settings, users):
    alice = await users.make("alice")
    async with running_servers(settings) as [server], httpx.AsyncClient(base_url=server.url) as c:
        r = await c.get("/v1/me", headers=alice.headers)
        assert r.status_code == 200
        assert r.json()["id"] == alice.id


@pytest.mark.real_backends
async def test_topups_from_two_workers_keep_the_ledger_balanced(settings, rt, users):
    people = [await users.make(f"p{i}") for i in range(20)]
    async with running_servers(settings, count=2) as servers:
        clients = [httpx.AsyncClient(base_url=s.url, timeout=30) for s in servers]
        answers: dict[str, list[httpx.Response]] = {}

        async def send(client: httpx.AsyncClient, p, key: str) -> None:
            r = await client.post(
                "/v1/wallet/topup",
                json={"amount_fen": 100},
                headers={**p.headers, "Idempotency-Key": key},
            )
            answers.setdefault(f"{p.id}:{key}", []).append(r)

        async def topups(n: int) -> None:
            p = people[n % len(people)]
            for k in range(10):
                # Each key is sent to both workers at once (a race, not a replay):
                # exactly one effect per key.
                async with anyio.create_task_group() as both:
                    for c in clients:
                        both.start_soon(send, c, p, f"{n}-{k}")

        async with anyio.create_task_group() as tg:
            for n in range(40):
                tg.start_soon(topups, n)
        for c in clients:
            await c.aclose()
    assert len(answers) == 40 * 10
    for key, (a, b) in answers.items():
        assert a.status_code == b.status_code == 200, (key, a.text, b.text)
        assert a.json() == b.json(), key  # the replay answers what the first answered
        # One of the two ran the top-up, the other was answered from the stored record.
        replayed = sorted(r.headers.get("Idempotent-Replayed") == "true" for r in (a, b))
        assert replayed == [False, True], key
    async with rt.sessionmaker() as db:
        audit = await ledger.audit(db)
        total = sum([await ledger.balance(db, ledger.wallet_account(p.id)) for p in people])
    assert audit.ok, audit
    assert total == 40 * 10 * 100


@pytest.mark.real_backends
async def test_a_worker_killed_mid_storm_loses_no_money(settings, rt, users):
    """SIGKILL one of two workers while top-ups stream in; retry every key on the survivor.

    Afterwards the ledger balances, and every key took effect exactly once."""
    people = [await users.make(f"p{i}") for i in range(10)]
    keys = [(p, f"k{n}") for n in range(30) for p in people]
    async with running_servers(settings, count=2) as (victim, survivor):
        async with (
            httpx.AsyncClient(base_url=victim.url, timeout=10) as vc,
            httpx.AsyncClient(base_url=survivor.url, timeout=30) as sc,
        ):
            sent = anyio.Event()

            async def storm(chunk: list) -> None:
                for n, (p, key) in enumerate(chunk):
                    if n == 5:
                        sent.set()
                    try:
                        await vc.post(
                            "/v1/wallet/topup",
                            json={"amount_fen": 100},
                            headers={**p.headers, "Idempotency-Key": key},
                        )
                    except httpx.HTTPError:
                        return  # the worker died under us

            async with anyio.create_task_group() as tg:
                for i in range(10):
                    tg.start_soon(storm, keys[i::10])
                await sent.wait()
                victim.kill()
            # The client retries every request (the same key) against the surviving worker.
            for p, key in keys:
                r = await sc.post(
                    "/v1/wallet/topup",
                    json={"amount_fen": 100},
                    headers={**p.headers, "Idempotency-Key": key},
                )
                assert r.status_code == 200, r.text
            await victim.restart()
    async with rt.sessionmaker() as db:
        audit = await ledger.audit(db)
        balances = [await ledger.balance(db, ledger.wallet_account(p.id)) for p in people]
    assert audit.ok, audit
    assert balances == [30 * 100] * len(people)


@pytest.mark.real_backends
async def test_the_dev_clock_is_shared_by_all_workers(settings, users):
    alice = await users.make("alice")
    async with running_servers(settings, count=2) as (a, b), httpx.AsyncClient() as c:
        before = (await c.get(b.url + "/v1/dev/clock")).json()["offset_s"]
        r = await c.post(a.url + "/v1/dev/clock", json={"advance_s": 7200}, headers=alice.headers)
        assert r.status_code == 200, r.text
        after = (await c.get(b.url + "/v1/dev/clock")).json()["offset_s"]
    assert after == before + 7200
