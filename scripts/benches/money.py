"""Money scenarios: a red-packet grab storm and transfer create + accept pairs.

- ``red_packet_storm``: 100 packets × 100 shares in 20 groups of 100 grabbers (2 000
  grabbers); every share is grabbed through the workers in turn; grabs/s and p99
  against the authenticated ``GET /v1/me`` baseline at the same concurrency. Checks
  afterwards that every packet paid exactly its total and the ledger balances.
- ``transfers``: friends send a transfer and the receiver accepts it; pairs/s (one op =
  create + accept) against the baseline, and the same per request (two per pair).
"""

from __future__ import annotations

import itertools

from app.db import transaction
from app.ids import new_id
from app.ledger import service as ledger
from scripts.benchlib import Bench, Result, measure
from social.chat.models import Conversation, ConversationMember

_runs = itertools.count()


async def make_groups(b: Bench, senders: list[str], groups: list[list[str]]) -> list[str]:
    """One group conversation per member list, ``senders[g]`` its creator and a member."""
    now = b.rt.clock.now()
    ids = []
    async with b.rt.sessionmaker() as db, transaction(db):
        for sender_id, members in zip(senders, groups, strict=True):
            conv = Conversation(
                id=new_id("c_"), kind="group", title="bench", created_by=sender_id, created_at=now
            )
            db.add(conv)
            await db.flush()
            for uid in (sender_id, *members):
                db.add(ConversationMember(conversation_id=conv.id, user_id=uid, joined_at=now))
            ids.append(conv.id)
    return ids


async def red_packet_storm(b: Bench) -> Result:
    """Grab every share of many packets at once, through every worker."""
    from social.red_packets import service as red_packets
    from social.red_packets.models import RedPacketClaim

    n_packets = b.scale(100, 10)
    shares = b.scale(100, 20)
    per_group = b.scale(5, 5)  # packets per group; each group has ``shares`` grabbers
    concurrency = b.scale(200, 50)
    total_fen = 10_000
    n_groups = n_packets // per_group
    # A sender per group: one person's packets count against one daily outgoing limit.
    senders = await b.make_users(n_groups, balance_fen=per_group * total_fen)
    grabbers = await b.make_users(n_groups * shares)
    groups = [grabbers[g * shares : (g + 1) * shares] for g in range(n_groups)]
    conv_ids = await make_groups(b, [s.id for s in senders], [[p.id for p in g] for g in groups])
    packets: list[tuple[str, int]] = []  # (packet id, group)
    async with b.rt.sessionmaker() as db:
        for g, conv in enumerate(conv_ids):
            for _ in range(per_group):
                async with transaction(db):
                    made = await red_packets.create_packet(
                        db,
                        b.rt,
                        sender_id=senders[g].id,
                        conversation_id=conv,
                        total_fen=total_fen,
                        count=shares,
                        mode="random",
                    )
                packets.append((made.id, g))
    clients = b.clients
    run = next(_runs)

    async def grab(i: int) -> None:
        packet_id, g = packets[i % len(packets)]
        person = groups[g][i // len(packets)]
        r = await clients[i % len(clients)].post(
            f"/v1/red-packets/{packet_id}/grab",
            headers={**person.headers, "Idempotency-Key": f"storm-{run}-{packet_id}"},
        )
        r.raise_for_status()

    stats = await measure(grab, total=n_packets * shares, concurrency=concurrency)
    from sqlalchemy import func, select

    async with b.rt.sessionmaker() as db:
        sums = (
            await db.execute(
                select(RedPacketClaim.packet_id, func.sum(RedPacketClaim.amount_fen), func.count()).group_by(
                    RedPacketClaim.packet_id
                )
            )
        ).all()
        audit = await ledger.audit(db)
    exact = len(sums) == n_packets and all(int(s) == total_fen and int(c) == shares for _, s, c in sums)
    return Result(
        stats=stats,
        baseline=await b.baseline(concurrency),
        extra={
            "packets": n_packets,
            "shares": shares,
            "grabbers": len(grabbers),
            "concurrency": concurrency,
            "every_packet_exact": exact,
            "ledger_ok": audit.ok,
        },
    )


async def transfers(b: Bench) -> Result:
    """Friends send transfers; each receiver accepts. One op = create + accept."""
    from social.friends import service as friends

    concurrency = b.scale(50, 20)
    n_pairs = b.scale(200, 40)
    total = b.scale(2000, 200)
    people = await b.make_users(2 * n_pairs, balance_fen=1_000_000)
    pairs = list(zip(people[0::2], people[1::2], strict=True))
    async with b.rt.sessionmaker() as db, transaction(db):
        for a, c in pairs:
            await friends.make_friends(db, a.id, c.id, now=b.rt.clock.now())
    clients = b.clients
    run = next(_runs)

    async def pair(i: int) -> None:
        sender, receiver = pairs[i % len(pairs)]
        client = clients[i % len(clients)]
        r = await client.post(
            "/v1/transfers",
            json={"to_user_id": receiver.id, "amount_fen": 100},
            headers={**sender.headers, "Idempotency-Key": f"tr-{run}-{i}"},
        )
        r.raise_for_status()
        tid = r.json()["id"]
        r = await client.post(
            f"/v1/transfers/{tid}/accept", headers={**receiver.headers, "Idempotency-Key": f"acc-{tid}"}
        )
        r.raise_for_status()

    stats = await measure(pair, total=total, concurrency=concurrency)
    async with b.rt.sessionmaker() as db:
        audit = await ledger.audit(db)
    baseline = await b.baseline(concurrency)
    return Result(
        stats=stats,
        baseline=baseline,
        extra={
            "pairs": n_pairs,
            "concurrency": concurrency,
            "ledger_ok": audit.ok,
            "op": "create+accept",
            # The headline ratio is pairs/s against single GETs; per request it is twice that.
            "money_requests_per_s": round(2 * stats.ops_per_s, 1),
            "ratio_per_request": round(2 * stats.ops_per_s / baseline.ops_per_s, 3),
        },
    )


SCENARIOS = {"red_packet_storm": red_packet_storm, "transfers": transfers}
