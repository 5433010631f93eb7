"""Races on one piece of money, round after round, on the test run's PostgreSQL.

Each round starts the contenders at once (in a random order) and, when they are done,
checks that exactly one outcome happened and that the ledger still holds: Σ postings = 0,
every balance = Σ its postings, no wallet below zero (``ledger.audit``).

- accept vs decline vs the expiry sweep on one transfer;
- grabs vs the refund sweep on one red packet;
- one user grabbing one packet twice at once, with the Redis fast path out of the way
  (it is only an optimisation: the database alone must keep "one share per person");
- two debits at once from a wallet that can pay only one.

The sweep runs as another worker whose clock reads one second later than the requests'
(``ahead``): the receiver's "accept" at 23:59:59 and the sweep at 24:00:00 really contend
for the same row. One idempotency key on two workers at once is in
``tests/app/test_servers.py`` (real servers).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import func, select

from app.clock import Clock
from app.db import transaction
from app.ledger import service as ledger
from app.ledger.models import LedgerTransaction
from app.runtime import Runtime, build_runtime
from social.red_packets import gate
from social.red_packets import service as red_packets
from social.red_packets.models import RedPacket, RedPacketClaim
from social.transfers import service as transfers
from social.transfers.models import Transfer
from tests.social.money_support import audit_ok, idem, make_group
from tests.support.people import error_code

DAY = 24 * 3600
ROUNDS = 30


class Ahead(Clock):
    """Another worker's clock: ``by`` later than ``of`` (which the test moves)."""

    def __init__(self, of: Clock, by: timedelta) -> None:
        super().__init__()
        self.of, self.by = of, by
        self.watch(0)

    def watch(self, reads: int) -> anyio.Event:
        """An event set once the worker has read the time ``reads`` more times (0: now).
        A sweep reads it first to find what is due, then just before each refund."""
        self._left, self._read = reads, anyio.Event()
        if reads == 0:
            self._read.set()
        return self._read

    def now(self) -> datetime:
        self._left -= 1
        if self._left == 0:
            self._read.set()
        return self.of.now() + self.by


@pytest.fixture
async def sweeper(settings: Any, rt: Runtime) -> AsyncIterator[Runtime]:
    """A second worker (its own connections) whose clock is one second ahead of ``rt``'s."""
    other = build_runtime(settings, clock=Ahead(rt.clock, timedelta(seconds=1)))
    try:
        yield other
    finally:
        await other.close()


async def at_once(rng: random.Random, contenders: dict[str, Callable[[], Awaitable[Any]]]) -> dict[str, Any]:
    """Start every contender in the same event-loop turn, in a random order; their results."""
    results: dict[str, Any] = {}

    async def run(name: str, fn: Callable[[], Awaitable[Any]]) -> None:
        results[name] = await fn()

    order = list(contenders.items())
    rng.shuffle(order)
    async with anyio.create_task_group() as tg:
        for name, fn in order:
            tg.start_soon(run, name, fn)
    return results


class HeadStart:
    """Lets a contender start once ``n`` others have finished (at once when ``n`` is 0)."""

    def __init__(self, n: int) -> None:
        self.left = n
        self.done = anyio.Event()
        if n == 0:
            self.done.set()

    async def counted(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        result = await fn()
        self.left -= 1
        if self.left == 0:
            self.done.set()
        return result

    async def after(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        await self.done.wait()
        return await fn()


async def ledger_kinds(rt: Runtime, ref_id: str) -> list[str]:
    async with rt.sessionmaker() as db:
        rows = await db.execute(select(LedgerTransaction.kind).where(LedgerTransaction.ref_id == ref_id))
        return sorted(rows.scalars())


async def wallets_never_negative(rt: Runtime, *people: Any) -> list[int]:
    async with rt.sessionmaker() as db:
        got = [await ledger.balance(db, ledger.wallet_account(p.id)) for p in people]
    assert all(b >= 0 for b in got), got
    return got


async def test_accept_decline_and_the_expiry_sweep_race_on_one_transfer(client, rt, users, sweeper):
    rng = random.Random(19)
    alice = await users.make("alice", balance_fen=ROUNDS * 1_000)
    bob = await users.make("bob")
    await users.friends(alice, bob)
    paid_to_bob = 0
    winners: Counter[str] = Counter()
    for n in range(ROUNDS):
        amount = 100 + n
        r = await client.post(
            "/v1/transfers", json={"to_user_id": bob.id, "amount_fen": amount}, headers=idem(alice)
        )
        assert r.status_code == 201, r.text
        tid = r.json()["id"]
        rt.clock.advance(DAY - 1)  # the requests: one second before expiry; the sweeper: at it
        # Accept and decline leave at once, or once the sweep has found the transfer due, or
        # once it is about to refund it: a request needs more round trips than the sweep to
        # reach the row, so without a head start the sweep would rarely win.
        clock = sweeper.clock
        assert isinstance(clock, Ahead)
        head = HeadStart(0)
        head.done = clock.watch(n % 3)
        got = await at_once(
            rng,
            {
                "accept": partial(
                    head.after, partial(client.post, f"/v1/transfers/{tid}/accept", headers=idem(bob))
                ),
                "decline": partial(
                    head.after, partial(client.post, f"/v1/transfers/{tid}/decline", headers=idem(bob))
                ),
                "sweep": partial(transfers.refund_expired, sweeper),
            },
        )

        async with rt.sessionmaker() as db:
            t = await db.get(Transfer, tid)
            assert t is not None
            escrow = await ledger.balance(db, transfers.escrow_of(tid))
        settle_kind = {"accepted": "transfer_accept", "declined": "transfer_decline"}
        settle_kind["refunded"] = "transfer_refund"
        # Exactly one outcome: one settling ledger transaction, the escrow empty.
        assert t.status in settle_kind, t.status
        assert await ledger_kinds(rt, tid) == sorted(["transfer", settle_kind[t.status]]), n
        assert escrow == 0
        assert got["sweep"] == (1 if t.status == "refunded" else 0)
        for action, status in (("accept", "accepted"), ("decline", "declined")):
            answer: httpx.Response = got[action]
            if t.status == status:
                assert answer.status_code == 200 and answer.json()["status"] == status, answer.text
            else:  # the loser is told what happened, and nothing moved for it
                assert answer.status_code == 409 and error_code(answer) == "conflict", answer.text
                assert answer.json()["error"]["details"]["status"] == t.status
        winners[t.status] += 1
        paid_to_bob += amount if t.status == "accepted" else 0
        assert await audit_ok(rt)
        a, b = await wallets_never_negative(rt, alice, bob)
        assert (a, b) == (ROUNDS * 1_000 - paid_to_bob, paid_to_bob), n
        rt.clock.advance(DAY)  # the next round in the next business day
    assert sum(winners.values()) == ROUNDS
    # A race, not a fixed order: over the rounds the settles and the sweep won.
    print(f"transfer races won: {dict(winners)}")
    assert len(winners) >= 2 and "refunded" in winners, winners


async def test_grabs_race_the_refund_sweep_on_one_red_packet(client, rt, users, sweeper):
    rng = random.Random(17)
    shares, total = 4, 1_000
    sender = await users.make("sender", balance_fen=ROUNDS * total)
    crowd = [await users.make(f"m{i}") for i in range(shares + 1)]
    conv = await make_group(rt, [sender, *crowd])
    refunded_to_sender = 0
    won: dict[str, int] = {m.id: 0 for m in crowd}
    outcomes: Counter[str] = Counter()
    for n in range(ROUNDS):
        r = await client.post(
            "/v1/red-packets",
            json={"conversation_id": conv, "total_fen": total, "count": shares, "mode": "random"},
            headers=idem(sender),
        )
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        rt.clock.advance(DAY - 1)
        # The sweep starts once some grabs have been answered (none: all at once), so that
        # every outcome happens over the rounds; it always races the grabs still in flight.
        head = HeadStart(rng.randrange(len(crowd)))
        contenders = {
            m.id: partial(head.counted, partial(client.post, f"/v1/red-packets/{pid}/grab", headers=idem(m)))
            for m in crowd
        }
        contenders["sweep"] = partial(head.after, partial(red_packets.refund_expired, sweeper))
        # One more grabber than shares: the packet can sell out, be refunded whole, or in part.
        answers = await at_once(rng, contenders)

        async with rt.sessionmaker() as db:
            p = await db.get(RedPacket, pid)
            assert p is not None
            claims = {
                c.user_id: c.amount_fen
                for c in (
                    await db.execute(select(RedPacketClaim).where(RedPacketClaim.packet_id == pid))
                ).scalars()
            }
            escrow = await ledger.balance(db, red_packets.escrow_of(pid))
        # Exactly one outcome: sold out (no refund) or refunded once (what was not grabbed).
        assert p.status in ("finished", "refunded"), p.status
        kinds = await ledger_kinds(rt, pid)
        assert kinds.count("red_packet_claim") == len(claims) <= shares
        if p.status == "finished":
            assert len(claims) == shares and p.refunded_fen == 0 and answers["sweep"] == 0
            assert "red_packet_refund" not in kinds
        else:
            assert answers["sweep"] == 1 and kinds.count("red_packet_refund") == 1
            assert p.refunded_fen == total - sum(claims.values()) > 0
        assert escrow == 0 and p.remaining_fen == 0
        assert sum(claims.values()) + p.refunded_fen == total
        for m in crowd:
            got: httpx.Response = answers[m.id]
            if m.id in claims:
                assert got.status_code == 200 and got.json()["amount_fen"] == claims[m.id], got.text
                won[m.id] += claims[m.id]
            else:  # sold out, or too late: the sweep had closed it
                assert got.status_code in (409, 410), got.text
                assert error_code(got) == ("sold_out" if got.status_code == 409 else "expired")
        outcomes["partly grabbed" if p.status == "refunded" and claims else p.status] += 1
        refunded_to_sender += p.refunded_fen
        assert await audit_ok(rt)
        balances = await wallets_never_negative(rt, sender, *crowd)
        unspent = (ROUNDS - n - 1) * total
        assert balances == [unspent + refunded_to_sender, *(won[m.id] for m in crowd)], n
        rt.clock.advance(DAY)
    assert sum(outcomes.values()) == ROUNDS
    print(f"red packet races: {dict(outcomes)}")
    assert len(outcomes) >= 2, outcomes


async def test_one_user_grabbing_twice_at_once_gets_one_share_without_the_gate(
    client, rt, users, monkeypatch
):
    """The Redis ticket gate is a fast path that may be reseeded or lost: with it out of the
    way, two grabs by one person at once (two keys, as from two phones) still pay once."""

    async def always_a_ticket(*args: Any, **kwargs: Any) -> int:
        return gate.TAKEN

    async def nothing_to_give_back(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(gate, "take", always_a_ticket)
    monkeypatch.setattr(gate, "give_back", nothing_to_give_back)
    rng = random.Random(5)
    shares, total = 3, 600
    sender = await users.make("sender", balance_fen=ROUNDS * total)
    crowd = [await users.make(f"m{i}") for i in range(shares)]
    conv = await make_group(rt, [sender, *crowd])
    won: dict[str, int] = {m.id: 0 for m in crowd}
    for n in range(ROUNDS):
        r = await client.post(
            "/v1/red-packets",
            json={"conversation_id": conv, "total_fen": total, "count": shares, "mode": "random"},
            headers=idem(sender),
        )
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        grab = f"/v1/red-packets/{pid}/grab"
        answers = await at_once(
            rng,
            {f"{m.id} {k}": partial(client.post, grab, headers=idem(m)) for m in crowd for k in range(2)},
        )

        async with rt.sessionmaker() as db:
            claims = {
                c.user_id: c.amount_fen
                for c in (
                    await db.execute(select(RedPacketClaim).where(RedPacketClaim.packet_id == pid))
                ).scalars()
            }
            p = await db.get(RedPacket, pid)
            assert p is not None
            escrow = await ledger.balance(db, red_packets.escrow_of(pid))
        for m in crowd:
            mine = [got for name, got in answers.items() if name.startswith(f"{m.id} ")]
            assert sorted(got.status_code for got in mine) == [200, 409], [g.text for g in mine]
            [paid] = [got for got in mine if got.status_code == 200]
            [refused] = [got for got in mine if got.status_code == 409]
            # Already claimed; or, when the other grab waited on the packet's lock until
            # the shares were gone, sold out. Never a second share.
            assert error_code(refused) in ("already_claimed", "sold_out")
            assert paid.json()["amount_fen"] == claims[m.id]
            won[m.id] += claims[m.id]
        # Every share went to a different person, the packet sold out, nothing twice.
        assert len(claims) == shares and sum(claims.values()) == total
        assert (p.status, p.remaining_count, p.remaining_fen, escrow) == ("finished", 0, 0, 0)
        assert (await ledger_kinds(rt, pid)).count("red_packet_claim") == shares
        assert await audit_ok(rt)
        balances = await wallets_never_negative(rt, sender, *crowd)
        assert balances == [(ROUNDS - n - 1) * total, *(won[m.id] for m in crowd)], n


async def test_two_debits_at_once_from_a_wallet_that_can_pay_one(client, rt, users):
    """The ledger's balance check under concurrency: of two transfers at once that the
    wallet can afford only one of, exactly one is paid; the wallet never goes below zero."""
    rng = random.Random(11)
    alice = await users.make("alice")
    bob, carol = await users.make("bob"), await users.make("carol")
    await users.friends(alice, bob)
    await users.friends(alice, carol)
    amount = 700
    sent = 0
    for n in range(ROUNDS):
        async with rt.sessionmaker() as db:
            # Top alice up to exactly one transfer's worth.
            have = await ledger.balance(db, ledger.wallet_account(alice.id))
        async with rt.sessionmaker() as db, transaction(db):
            await ledger.post(
                db,
                kind="topup",
                entries=ledger.move(ledger.SETTLEMENT, ledger.wallet_account(alice.id), amount - have),
                now=rt.clock.now(),
                ref_id=alice.id,
            )
        got = await at_once(
            rng,
            {
                to.id: partial(
                    client.post,
                    "/v1/transfers",
                    json={"to_user_id": to.id, "amount_fen": amount},
                    headers=idem(alice),
                )
                for to in (bob, carol)
            },
        )
        answers = list(got.values())
        codes = sorted(r.status_code for r in answers)
        assert codes == [201, 409], [r.text for r in answers]
        [refused] = [r for r in answers if r.status_code == 409]
        assert error_code(refused) == "insufficient_funds"
        sent += amount
        async with rt.sessionmaker() as db:
            n_transfers = await db.scalar(
                select(func.count()).select_from(Transfer).where(Transfer.sender_id == alice.id)
            )
        assert n_transfers == n + 1
        assert await audit_ok(rt)
        assert await wallets_never_negative(rt, alice) == [0]
        rt.clock.advance(DAY)  # the daily outgoing limit is not what refuses here
