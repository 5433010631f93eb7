"""The real-server harness itself, and the ledger under real multi-process load."""

from __future__ import annotations

import anyio
import httpx
import pytest

from app.ledger import service as ledger
from tests.support.servers import needs_real, running_servers

pytestmark = pytest.mark.anyio


async def test_a_real_server_answers(settings, users):
    alice = await users.make("alice")
    async with running_servers(settings) as [server], httpx.AsyncClient(base_url=server.url) as c:
        r = await c.get("/v1/me", headers=alice.headers)
        assert r.status_code == 200
        assert r.json()["id"] == alice.id


async def test_topups_from_two_workers_keep_the_ledger_balanced(settings, rt, users):
    needs_real(settings)
    people = [await users.make(f"p{i}") for i in range(20)]
    async with running_servers(settings, count=2) as servers:
        clients = [httpx.AsyncClient(base_url=s.url, timeout=30) for s in servers]
        statuses: list[int] = []

        async def topups(n: int) -> None:
            p = people[n % len(people)]
            for k in range(10):
                # Each key is sent to both workers: exactly one effect per key.
                for c in clients:
                    r = await c.post(
                        "/v1/wallet/topup",
                        json={"amount_fen": 100},
                        headers={**p.headers, "Idempotency-Key": f"{n}-{k}"},
                    )
                    statuses.append(r.status_code)

        async with anyio.create_task_group() as tg:
            for n in range(40):
                tg.start_soon(topups, n)
        for c in clients:
            await c.aclose()
    assert set(statuses) == {200}
    async with rt.sessionmaker() as db:
        audit = await ledger.audit(db)
        total = sum([await ledger.balance(db, ledger.wallet_account(p.id)) for p in people])
    assert audit.ok, audit
    assert total == 40 * 10 * 100
