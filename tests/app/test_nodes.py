"""Several nodes behind nginx (round-robin, no sticky sessions) on one PostgreSQL and
one Redis: chat, a red-packet storm and forest collection with clients spread over the
nodes; a node killed (SIGKILL) in the middle of a chat; a node drained (SIGTERM).

- Chat: clients send with a window of one through the proxy. When their node dies they
  reconnect through the proxy to another node, resend what was not acknowledged (same
  ``cid``: same ack) and ``sync`` what they missed. Every acknowledged message is stored
  once, in order, and every member ends up with every message.
- Drain: the node stops accepting at once, closes its sockets with 1012 (service restart)
  so their clients move, finishes the request it has in flight (held on a row lock by
  the test), then exits 0.
- Money: grabs, transfers and forest collection through the proxy keep every invariant
  (ledger audit, claims + refund + escrow = total, energy conserved).
"""

from __future__ import annotations

import contextlib
import itertools
import random
import signal
import time
from collections import Counter
from typing import Any

import anyio
import httpx
import pytest
import websockets
from sqlalchemy import text

from app.ledger import service as ledger
from tests.games.helpers import assert_energy_conserved, ripe_ball
from tests.social.money_support import audit_ok, make_group, messages
from tests.social.test_money_storm import check_packets, check_transfers, create_packets
from tests.support.nodes import Node, Proxy, start_nodes, stop_nodes, wait_ready
from tests.support.ws import WsClient, ws_url

pytestmark = [pytest.mark.real_backends, pytest.mark.nginx]

SMALL_POOL = {"QUANZI_DB_POOL_SIZE": "4", "QUANZI_SHUTDOWN_GRACE_S": "20"}
RECONNECT_S = 30.0
CONCURRENCY = 24


@pytest.fixture(scope="module")
def node_settings(base_settings: Any) -> Any:
    """One Redis prefix for the module: the nodes outlive a test (starting three takes a
    while on a small machine), the database is cleaned between tests as usual."""
    import uuid

    from tests.support import backends

    return base_settings.model_copy(
        update={
            "redis_prefix": f"{base_settings.redis_prefix}nodes{uuid.uuid4().hex[:6]}:",
            "redis_url": backends.redis_url(),
        }
    )


@pytest.fixture
def settings(node_settings: Any) -> Any:
    return node_settings


@pytest.fixture(scope="module")
def cluster(node_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    proxy, nodes = start_nodes(node_settings, tmp_path_factory.mktemp("nodes"), count=3, extra_env=SMALL_POOL)
    try:
        yield proxy, nodes
    finally:
        stop_nodes(proxy, nodes)


@pytest.fixture
async def proxied(cluster: Any) -> Any:
    """The proxy and three live nodes (one a previous test killed or drained is restarted)."""
    proxy, nodes = cluster
    for n in nodes:
        if n.proc is None or n.proc.poll() is not None:
            n.start()
    await wait_ready(proxy, nodes)
    return proxy, nodes


async def connect(proxy: Proxy | Node, token: str) -> tuple[Any, WsClient]:
    """A socket through ``proxy`` (retried while every node it tries is down)."""
    deadline = time.monotonic() + RECONNECT_S
    while True:
        try:
            ws = await websockets.connect(ws_url(proxy, token), max_size=None)  # type: ignore[arg-type]
        except (OSError, websockets.InvalidHandshake):
            if time.monotonic() > deadline:
                raise
            await anyio.sleep(0.1)  # the proxy is finding a live node
            continue
        client = WsClient(ws)
        await client.expect("ready")
        return ws, client


class ChatClient:
    """One member's device: sends with a window of one, follows its node going away."""

    def __init__(self, person: Any, conv: str, proxy: Proxy) -> None:
        self.person, self.conv, self.proxy = person, conv, proxy
        self.seen: dict[int, str] = {}  # seq → message id, from pushes and syncs
        self.acked: dict[str, tuple[int, str]] = {}  # cid → (seq, message id)
        self.closes: list[int] = []
        self.ws: Any = None
        self.client: WsClient | None = None

    def high_water(self) -> int:
        n = 0
        while n + 1 in self.seen:
            n += 1
        return n

    def take_pushes(self) -> None:
        """Move the message frames the client buffered into ``seen``."""
        assert self.client is not None
        kept = []
        for f in self.client.buffer:
            if f.get("op") == "message" and f.get("conversation_id") == self.conv:
                self.seen[f["seq"]] = f["message"]["id"]
            else:
                kept.append(f)
        self.client.buffer = kept

    async def open(self) -> None:
        self.ws, self.client = await connect(self.proxy, self.person.token)
        await self.sync()

    async def sync(self) -> None:
        """What this device missed: ``sync`` from its high-water mark until nothing is new."""
        assert self.client is not None
        while True:
            after = self.high_water()
            await self.client.send({"op": "sync", "conversation_id": self.conv, "after_seq": after})
            await self.client.expect("synced", conversation_id=self.conv)
            self.take_pushes()
            if self.high_water() == after:
                return

    async def send(self, cid: str) -> None:
        while True:
            try:
                assert self.client is not None
                await self.client.send(
                    {
                        "op": "send",
                        "cid": cid,
                        "conversation_id": self.conv,
                        "body": {"kind": "text", "text": cid},
                    }
                )
                ack = await self.client.expect("ack", cid=cid)
                self.acked[cid] = (ack["seq"], ack["message_id"])
                self.take_pushes()
                return
            except websockets.ConnectionClosed as exc:
                self.closes.append(exc.rcvd.code if exc.rcvd is not None else 1006)
                await self.open()  # then resend the same cid: the same ack if it was stored

    async def finish(self) -> None:
        """Catch up (the socket may have moved once more since the last send), then close."""
        while True:
            try:
                await self.sync()
                break
            except websockets.ConnectionClosed as exc:
                self.closes.append(exc.rcvd.code if exc.rcvd is not None else 1006)
                await self.open()
        with contextlib.suppress(Exception):
            await self.ws.close()


async def test_money_and_forest_through_nginx_keep_every_invariant(client, rt, users, proxied):
    """Grabs, transfers and forest collection from clients whose requests the proxy
    spreads round-robin over three nodes."""
    proxy, _ = proxied
    n_packets, shares, total = 6, 15, 3_000
    sender = await users.make("sender", balance_fen=n_packets * total)
    crowd = [await users.make(f"c{i}", balance_fen=10_000) for i in range(24)]
    conv = await make_group(rt, [sender, *crowd])
    pairs = list(itertools.pairwise(crowd))[::2]  # 12 friend pairs
    for a, b in pairs:
        await users.friends(a, b)
    owner = crowd[0]
    for p in crowd[1:]:
        if (owner, p) not in pairs:
            await users.friends(owner, p)
    ball = await ripe_ball(client, rt, owner)
    async with httpx.AsyncClient(
        base_url=proxy.url, timeout=60, limits=httpx.Limits(max_connections=CONCURRENCY)
    ) as hc:
        packets = await create_packets(hc, sender, conv, n_packets, total, shares)
        limiter = anyio.CapacityLimiter(CONCURRENCY)
        answers: list[tuple[str, int, dict[str, Any]]] = []

        async def post(
            kind: str, path: str, person: Any, key: str, body: dict[str, Any] | None = None
        ) -> Any:
            async with limiter:
                r = await hc.post(path, json=body, headers={**person.headers, "Idempotency-Key": key})
            answers.append((kind, r.status_code, r.json() if r.content else {}))
            return r

        async def transfer(a: Any, b: Any, k: int) -> None:
            r = await post(
                "transfer", "/v1/transfers", a, f"t-{a.id}-{k}", {"to_user_id": b.id, "amount_fen": 100 + k}
            )
            if r.status_code == 201:
                tid = r.json()["id"]
                await post("accept", f"/v1/transfers/{tid}/accept", b, f"accept-{tid}")

        ops = [(p, m) for p in packets for m in crowd]
        random.Random(5).shuffle(ops)
        async with anyio.create_task_group() as tg:
            for packet_id, m in ops:
                tg.start_soon(post, "grab", f"/v1/red-packets/{packet_id}/grab", m, f"grab-{packet_id}")
            for k, (a, b) in enumerate(pairs * 2):
                tg.start_soon(transfer, a, b, k)
            for p in crowd:
                tg.start_soon(post, "collect", f"/v1/forest/balls/{ball['id']}/collect", p, f"collect-{p.id}")
    assert all(status < 500 for _, status, _ in answers), Counter(s for _, s, _ in answers)
    grabs = Counter(status for kind, status, _ in answers if kind == "grab")
    assert grabs == {200: n_packets * shares, 409: n_packets * (len(crowd) - shares)}, grabs
    won = sum(body["amount_fen"] for kind, status, body in answers if kind == "grab" and status == 200)
    assert won == n_packets * total
    collected = [body["collected_g"] for kind, status, body in answers if kind == "collect" and status == 200]
    # friends take at most half between them, the owner what is left: the ball, once
    assert sum(collected) == ball["amount_g"]
    assert await audit_ok(rt)
    await check_packets(rt, packets, total, shares)
    await check_transfers(rt, allow_pending=False)
    await assert_energy_conserved(rt)


async def waiting_on_a_lock(rt: Any, holder_pid: int) -> int:
    """How many backends wait for a lock that ``holder_pid`` holds (whatever their SQL
    says: the ledger posting is a function call)."""
    async with rt.engine.connect() as conn:
        return int(
            await conn.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE :holder = ANY(pg_blocking_pids(pid))"),
                {"holder": holder_pid},
            )
        )


async def test_chat_through_nginx_survives_a_killed_node_and_a_drained_one(rt, users, proxied):
    people = [await users.make(f"p{i}") for i in range(9)]
    groups = [people[i : i + 3] for i in range(0, 9, 3)]
    convs = [await make_group(rt, g, title=f"g{n}") for n, g in enumerate(groups)]
    per_client = 12
    proxy, nodes = proxied
    if True:
        victim, drained, _ = nodes
        clients = [ChatClient(p, conv, proxy) for g, conv in zip(groups, convs, strict=True) for p in g]
        for c in clients:
            await c.open()  # round-robin: three sockets on each node
        acks = 0
        third, two_thirds = anyio.Event(), anyio.Event()

        async def chat(c: ChatClient) -> None:
            nonlocal acks
            for k in range(per_client):
                await c.send(f"{c.person.id[-6:]}-{k}")
                acks += 1
                if acks >= len(clients) * per_client // 3:
                    third.set()
                if acks >= len(clients) * per_client * 2 // 3:
                    two_thirds.set()
                await anyio.sleep(0.02)  # spread the chat over the kill and the drain

        drain_report: dict[str, Any] = {}

        async def chaos() -> None:
            await third.wait()
            victim.kill()
            await two_thirds.wait()
            # A request in flight on the node to drain: a top-up held on the wallet's row lock.
            holder = people[0]
            async with rt.engine.connect() as conn, httpx.AsyncClient(base_url=drained.url, timeout=60) as hc:
                tx = await conn.begin()
                holder_pid = int(await conn.scalar(text("SELECT pg_backend_pid()")))
                await conn.execute(
                    text("SELECT 1 FROM ledger_accounts WHERE id = :id FOR UPDATE"),
                    {"id": ledger.wallet_account(holder.id)},
                )
                async with anyio.create_task_group() as tg:

                    async def topup() -> None:
                        drain_report["topup"] = await hc.post(
                            "/v1/wallet/topup",
                            json={"amount_fen": 500},
                            headers={**holder.headers, "Idempotency-Key": "in-flight"},
                        )

                    tg.start_soon(topup)
                    with anyio.fail_after(30):
                        while True:  # until the top-up waits on the lock
                            if await waiting_on_a_lock(rt, holder_pid):
                                break
                            await anyio.sleep(0.02)
                    drained.drain()
                    # It stops accepting at once, and stays up for the request in flight.
                    with anyio.fail_after(15):
                        while True:
                            try:
                                async with httpx.AsyncClient(timeout=2) as probe:
                                    await probe.get(drained.url + "/healthz")
                            except (httpx.ConnectError, httpx.RemoteProtocolError):
                                break  # refused, or closed unanswered (caught in the listen queue)
                            await anyio.sleep(0.02)
                    assert drained.proc is not None and drained.proc.poll() is None
                    drain_report["alive_while_in_flight"] = True
                    await tx.rollback()  # let the top-up through
                drain_report["exit"] = await drained.wait_exit()

        async with anyio.create_task_group() as tg:
            tg.start_soon(chaos)
            for c in clients:
                tg.start_soon(chat, c)
        for c in clients:
            await c.finish()

    # The request that was in flight when the drain began finished, and the node exited cleanly.
    assert drain_report["alive_while_in_flight"]
    assert drain_report["topup"].status_code == 200, drain_report["topup"].text
    # 0, or uvicorn re-raising the SIGTERM it handled once the shutdown was done.
    assert drain_report["exit"] in (0, -signal.SIGTERM), drain_report["exit"]
    closes = Counter(code for c in clients for code in c.closes)
    assert closes[1012] >= 1, closes  # the drained node's sockets: "service restart"
    assert sum(n for code, n in closes.items() if code != 1012) >= 1, closes  # the killed node's
    # Every acknowledged message is stored once, in order; every member has all of them.
    for conv, group in zip(convs, groups, strict=True):
        members = [c for c in clients if c.conv == conv]
        acked = dict(ack for c in members for ack in c.acked.values())  # seq → message id
        assert len(acked) == per_client * len(group), "one ack per cid, whatever the reconnects"
        assert sorted(acked) == list(range(1, len(acked) + 1))
        stored = {m.seq: m.id for m in await messages(rt, conv)}
        assert stored == acked, "every acknowledged message stored once, in order, nothing else"
        for c in members:
            assert c.seen == stored, "every member has every message (pushed or synced)"
    async with rt.sessionmaker() as db:
        assert await ledger.balance(db, ledger.wallet_account(people[0].id)) == 500
    assert await audit_ok(rt)
