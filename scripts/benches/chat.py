"""Chat over the WebSocket: delivered messages per second and send→deliver latency.

200 sockets (two users each in 100 direct conversations) send as fast as their acks
allow; each message's delivery to the other member is timed (the send time travels in
the text). The baseline, in the same run and with the same client load, is the bare
dev relay ``/v1/dev/ws-relay`` on the same server stack and hub (no auth, no storage).
A third phase paces the chat at half the maximum rate measured and reports its latency
(the target is p99 ≤ 50 ms there).

``chat_groups`` is issue #18's workload, the one compared with Nakama: 200 sockets in 40
group conversations of 5, each client sending its next message when the previous one is
acknowledged (a window of one), every message stored, acknowledged after the commit and
pushed to the 4 other members. It reports acknowledged messages/s (the headline), delivered
messages/s, ack and delivery p50/p99, and what a message costs (CPU of the service and of
PostgreSQL, round trips), at full rate and at half of it; then at half rate again with
every member marking read each message it receives (``half_rate_marking_read``: four read
marks per message, as clients on screen send them).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from sqlalchemy import text

from app.db import transaction
from scripts import benchlib
from scripts.benchlib import Bench, Result, Stats
from social.chat import service as chat


@dataclass
class Phase:
    warmup_s: float
    measure_s: float
    start: float = 0.0
    delivered: int = 0
    sent: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    acked: int = 0  # acknowledged sends inside the window
    ack_latencies_ms: list[float] = field(default_factory=list)
    cost: Any = None  # benchcost.Cost over the whole phase (warm-up included)
    error_kinds: dict[str, int] = field(default_factory=dict)  # error frames by code and message
    mark_reads: bool = False  # each member marks read every message it receives (a client on screen)

    def in_window(self, t: float) -> bool:
        return self.start + self.warmup_s <= t < self.start + self.warmup_s + self.measure_s

    def stats(self) -> Stats:
        """Deliveries: every message as a member received it."""
        return Stats(
            ops=self.delivered, seconds=self.measure_s, latencies_ms=self.latencies_ms, errors=self.errors
        )

    def ack_stats(self) -> Stats:
        """Acknowledged sends, with what each cost (the phase's cost over all its acks)."""
        stats = Stats(
            ops=self.acked, seconds=self.measure_s, latencies_ms=self.ack_latencies_ms, errors=self.errors
        )
        if self.cost is not None:
            stats.cost = self.cost
            # Cost.per_op divides by the ops it is given: the phase's every ack, warm-up included.
            stats.cost_ops = self.sent
        return stats


class Socket:
    """One client socket: a reader task resolves acks and times deliveries from the peer."""

    def __init__(self, ws: Any, me: str, conversation_id: str, phase: Phase) -> None:
        self.ws = ws
        self.me = me
        self.conversation_id = conversation_id
        self.phase = phase
        self.acks: dict[str, asyncio.Future[None]] = {}
        self.cids = itertools.count()
        self.nonce = uuid.uuid4().hex[:8]  # cids are idempotency keys: unique per phase

    async def read(self) -> None:
        async for raw in self.ws:
            f = json.loads(raw)
            op = f.get("op")
            if op == "ack" or op == "error":
                fut = self.acks.pop(f.get("cid") or "", None)
                if op == "error":
                    self.phase.errors += 1
                    code = f"{f.get('code')}: {f.get('message')}"
                    self.phase.error_kinds[code] = self.phase.error_kinds.get(code, 0) + 1
                if fut is not None and not fut.done():
                    fut.set_result(None)
            elif op == "message":
                text, sender = _text_and_sender(f)
                if sender is None or sender == self.me:
                    continue  # my own message echoed back
                now = time.perf_counter()
                if self.phase.in_window(now):
                    self.phase.delivered += 1
                    self.phase.latencies_ms.append((now - float(text)) * 1000)
                if self.phase.mark_reads:
                    await self.ws.send(
                        json.dumps({"op": "read", "conversation_id": f["conversation_id"], "seq": f["seq"]})
                    )
            elif op == "ping":
                await self.ws.send('{"op":"pong"}')

    async def send_one(self) -> None:
        cid = f"{self.me}-{self.nonce}{next(self.cids)}"
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.acks[cid] = fut
        frame = {
            "op": "send",
            "cid": cid,
            "conversation_id": self.conversation_id,
            "body": {"kind": "text", "text": repr(time.perf_counter())},
        }
        t0 = time.perf_counter()
        await self.ws.send(json.dumps(frame))
        await asyncio.wait_for(fut, timeout=30)
        self.phase.sent += 1
        now = time.perf_counter()
        if self.phase.in_window(now):
            self.phase.acked += 1
            self.phase.ack_latencies_ms.append((now - t0) * 1000)


def _text_and_sender(f: dict[str, Any]) -> tuple[str, str | None]:
    if "message" in f:  # the chat's message frame
        return f["message"]["body"]["text"], f["message"]["sender_id"]
    return f["body"]["text"], f["cid"].rsplit("-", 1)[0]  # the relay's frame


async def run_phase(
    urls: list[tuple[str, str, str]], phase: Phase, interval_s: Callable[[], float] | None = None
) -> Stats:
    """Open every socket (url, my id, conversation), send until the window closes, time it."""
    conns = [await websockets.connect(url, max_size=None, open_timeout=60) for url, _, _ in urls]
    try:
        sockets = []
        for ws, (_, me, conv) in zip(conns, urls, strict=True):
            if ws.request is not None and "/v1/ws" in ws.request.path:
                ready = json.loads(await ws.recv())
                assert ready["op"] == "ready", ready
            sockets.append(Socket(ws, me, conv, phase))
        readers = [asyncio.create_task(s.read()) for s in sockets]
        before = await benchlib.METER.snapshot() if benchlib.METER else None
        phase.start = time.perf_counter()
        stop_at = phase.start + phase.warmup_s + phase.measure_s

        async def sender(s: Socket, offset: float) -> None:
            next_at = time.perf_counter() + offset
            while time.perf_counter() < stop_at:
                if interval_s is not None:
                    await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                    next_at += interval_s()
                try:
                    await s.send_one()
                except (TimeoutError, websockets.ConnectionClosed):
                    phase.errors += 1

        n = len(sockets)
        gap = interval_s() / n if interval_s is not None else 0.0
        await asyncio.gather(*(sender(s, i * gap) for i, s in enumerate(sockets)))
        if benchlib.METER and before:
            phase.cost = (await benchlib.METER.snapshot()) - before
        await asyncio.sleep(0.2)  # let the last deliveries arrive (outside the window anyway)
        for r in readers:
            r.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    finally:
        await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
    return phase.stats()


async def chat_bench(b: Bench) -> Result:
    """200 sockets in 100 direct conversations vs the bare relay; then half the max rate."""
    pairs = b.scale(100, 20)
    warmup, window = b.scale(2, 1), b.scale(10, 3)
    people = await b.make_users(pairs * 2)
    convs = []
    async with b.rt.sessionmaker() as db:
        for i in range(pairs):
            c = await chat.get_or_create_direct(db, b.rt, people[2 * i].id, people[2 * i + 1].id)
            convs.append(c.id)
    ws_urls = [u.replace("http://", "ws://") for u in b.urls]

    def targets(route: Callable[[int, int], str]) -> list[tuple[str, str, str]]:
        out = []
        for i, conv in enumerate(convs):
            for k in (0, 1):
                p = people[2 * i + k]
                # The two members of a pair sit on different workers when there are several.
                out.append((ws_urls[(i + k) % len(ws_urls)] + route(i, k), p.id, conv))
        return out

    relay = await run_phase(targets(lambda i, k: f"/v1/dev/ws-relay?room=r{i}"), Phase(warmup, window))
    people_by_id = {p.id: p for p in people}
    chat_targets = [
        (url + f"/v1/ws?token={people_by_id[me].token}", me, conv)
        for url, me, conv in targets(lambda i, k: "")
    ]
    full = await run_phase(chat_targets, Phase(warmup, window))
    half_rate = max(1.0, full.ops_per_s / 2)
    per_socket_interval = len(chat_targets) / half_rate
    half = await run_phase(chat_targets, Phase(warmup, window), interval_s=lambda: per_socket_interval)
    return Result(
        stats=full,
        baseline=relay,
        baseline_name="ws_relay",
        extra={
            "sockets": len(chat_targets),
            "conversations": pairs,
            "window_s": window,
            "half_rate": {"target_msgs_per_s": round(half_rate, 1), **half.summary()},
        },
    )


_HISTORY = text(
    """
WITH mem AS (
    SELECT conversation_id, array_agg(user_id ORDER BY user_id) AS us
    FROM conversation_members WHERE conversation_id = ANY(CAST(:convs AS varchar[]))
    GROUP BY conversation_id
), added AS (
    INSERT INTO messages (id, conversation_id, seq, sender_id, kind, body, cid, created_at)
    SELECT 'mh_' || substr(md5(c.id || '/' || g), 1, 24), c.id, c.last_seq + g,
           mem.us[1 + (g - 1) % cardinality(mem.us)], 'text',
           json_build_object('text', 'history ' || g), 'history-' || g, CAST(:at AS timestamptz)
    FROM conversations c JOIN mem ON mem.conversation_id = c.id,
         generate_series(1, cardinality(mem.us) * CAST(:per AS int)) AS g
)
UPDATE conversations c SET last_seq = c.last_seq + cardinality(mem.us) * CAST(:per AS int)
FROM mem WHERE mem.conversation_id = c.id
"""
)


async def chat_groups(b: Bench, *, history_per_sender: int = 0) -> Result:
    """200 sockets in 40 groups of 5, a window of one; the relay in the same rooms is the
    baseline; then half the maximum rate. ``history_per_sender`` messages per member are
    stored in each group first (``chat_groups_history``: 1 000 each)."""
    from scripts.benches.money import make_groups

    n_groups, size = b.scale(40, 8), 5
    warmup, window = b.scale(2, 1), b.scale(10, 3)
    people = await b.make_users(n_groups * size)
    groups = [people[g * size : (g + 1) * size] for g in range(n_groups)]
    convs = await make_groups(b, [g[0].id for g in groups], [[p.id for p in g[1:]] for g in groups])
    if history_per_sender:
        async with b.rt.sessionmaker() as db, transaction(db):
            await db.execute(_HISTORY, {"convs": convs, "per": history_per_sender, "at": b.rt.clock.now()})
        # Vacuumed, analysed and written out, as a table long in use would be: otherwise
        # autovacuum reads the fresh history, and the next checkpoint writes its pages,
        # during the measurement (the commits' fsyncs then queue behind those writes).
        async with b.rt.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE messages"))
            await conn.execute(text("CHECKPOINT"))
    ws_urls = [u.replace("http://", "ws://") for u in b.urls]
    slots = [(g, k) for g in range(n_groups) for k in range(size)]

    def url(g: int, k: int) -> str:
        return ws_urls[(g * size + k) % len(ws_urls)]  # members spread over the workers

    relay_phase = Phase(warmup, window)
    relay = await run_phase(
        [(url(g, k) + f"/v1/dev/ws-relay?room=g{g}", groups[g][k].id, convs[g]) for g, k in slots],
        relay_phase,
    )
    targets = [
        (url(g, k) + f"/v1/ws?token={groups[g][k].token}", groups[g][k].id, convs[g]) for g, k in slots
    ]
    full_phase = Phase(warmup, window)
    await run_phase(targets, full_phase)
    full = full_phase.ack_stats()
    half_rate = max(1.0, full.ops_per_s / 2)
    interval = len(targets) / half_rate
    half_phase = Phase(warmup, window)
    await run_phase(targets, half_phase, interval_s=lambda: interval)
    # The same half rate with every member marking read each message it receives (4 marks
    # per message): what reading costs on top.
    reads_phase = Phase(warmup, window, mark_reads=True)
    await run_phase(targets, reads_phase, interval_s=lambda: interval)
    relay_acked = Stats(ops=relay.ops // (size - 1), seconds=relay.seconds, latencies_ms=relay.latencies_ms)
    # What the transport alone costs per message (no storage): the floor under the chat's cost.
    relay_acked.cost, relay_acked.cost_ops = relay_phase.cost, relay_phase.sent
    return Result(
        stats=full,
        baseline=relay_acked,
        baseline_name="ws_relay (messages/s: deliveries ÷ 4)",
        extra={
            "sockets": len(targets),
            "history_per_sender": history_per_sender,
            "groups": n_groups,
            "group_size": size,
            "window_s": window,
            "acked_per_s": round(full.ops_per_s, 1),
            "delivered": full_phase.stats().summary(),
            "half_rate": {
                "target_msgs_per_s": round(half_rate, 1),
                "acked": half_phase.ack_stats().summary(),
                "delivered": half_phase.stats().summary(),
            },
            "half_rate_marking_read": {
                "errors": reads_phase.error_kinds,
                "acked": reads_phase.ack_stats().summary(),
                "delivered": reads_phase.stats().summary(),
            },
        },
    )


async def chat_groups_history(b: Bench) -> Result:
    """``chat_groups`` on groups that already hold 1 000 messages per member: sends must not
    slow down as history grows."""
    return await chat_groups(b, history_per_sender=1000)


SCENARIOS = {"chat": chat_bench, "chat_groups": chat_groups, "chat_groups_history": chat_groups_history}
