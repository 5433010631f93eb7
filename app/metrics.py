"""Business metrics: what the service did, counted where it happened, exported at ``/metrics``.

Features count their own events through these Prometheus metrics (``app`` defines the
names so that the operations dashboard and ``/metrics`` agree on them):

| metric | type | counted by |
|---|---|---|
| ``quanzi_chat_messages_total{kind}`` | counter | chat, after the message is committed |
| ``quanzi_red_packets_sent_total`` | counter | red packets, after commit |
| ``quanzi_red_packet_grabs_total`` | counter | red packets, after commit |
| ``quanzi_transfers_total{event}`` | counter | transfers (sent, accepted, declined), after commit |
| ``quanzi_refunds_swept_total{kind}`` | counter | the expiry sweep (``app.expiry``) |
| ``quanzi_energy_collected_grams_total`` | counter | the forest, after commit |
| ``quanzi_otp_sent_total`` | counter | one-time codes sent |
| ``quanzi_moderation_queue_depth`` | gauge | open review items, set by moderation's job |
| ``quanzi_ws_connections_open`` | gauge | the WebSocket gateway |
| ``quanzi_http_family_seconds{family}`` | histogram | HTTP latency per route family |
| ``quanzi_db_round_trips_total{kind}`` | counter | every statement, BEGIN, COMMIT and ROLLBACK sent to PostgreSQL (``count_round_trips``) |
| ``quanzi_db_reads_total{target,reason}`` | counter | stale-tolerant reads by where they went: replica or primary, and why (``app/replicas.py``) |

Every business counter moves only once the work is committed (``count_after_commit``), so a
rolled back use case counts nothing. The round-trip counter counts what is sent, committed
or not: ``scripts/bench.py`` divides it by the operations of a scenario.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import after_commit

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

MESSAGES = Counter("quanzi_chat_messages", "Chat messages stored", ["kind"])
RED_PACKETS_SENT = Counter("quanzi_red_packets_sent", "Red packets sent")
RED_PACKET_GRABS = Counter("quanzi_red_packet_grabs", "Red packet shares grabbed")
TRANSFERS = Counter("quanzi_transfers", "Transfers by event (sent, accepted, declined)", ["event"])
REFUNDS_SWEPT = Counter("quanzi_refunds_swept", "Expired transfers and red packets refunded", ["kind"])
ENERGY_COLLECTED = Counter("quanzi_energy_collected_grams", "Energy collected from balls (grams)")
OTP_SENT = Counter("quanzi_otp_sent", "One-time login codes sent")
MODERATION_QUEUE = Gauge(
    "quanzi_moderation_queue_depth", "Moderation items awaiting review", multiprocess_mode="max"
)
WS_OPEN = Gauge("quanzi_ws_connections_open", "WebSocket connections open", multiprocess_mode="livesum")
DB_ROUND_TRIPS = Counter(
    "quanzi_db_round_trips", "Round trips to PostgreSQL (statement, begin, commit, rollback)", ["kind"]
)

FAMILY_LATENCY = Histogram(
    "quanzi_http_family_seconds", "HTTP latency per route family", ["family"], buckets=LATENCY_BUCKETS
)

_OPS_PATHS = {"healthz", "readyz", "metrics"}
_DOCS_PATHS = {"docs", "redoc", "openapi.json", "asyncapi.yaml"}


def route_family(template: str) -> str:
    """The family of a route template: ``/v1/red-packets/{id}/grab`` → ``red-packets``,
    ``/console/…`` → ``console``, health and metrics → ``ops``."""
    parts = [p for p in template.split("/") if p]
    if not parts:
        return "root"
    head = parts[0]
    if head == "v1" and len(parts) > 1:
        return parts[1] if not parts[1].startswith("{") else "v1"
    if head in _OPS_PATHS:
        return "ops"
    if head in _DOCS_PATHS:
        return "docs"
    if head == "unmatched":
        return "unmatched"
    return head if not head.startswith("{") else "other"


RoundTrip = Callable[[Any, str, str], None]
"""Told of each round trip: (the connection's DBAPI adapter, kind, statement or
BEGIN/COMMIT/ROLLBACK)."""


def _in_transaction(dbapi: Any) -> bool:
    """Whether asyncpg has a transaction open on this connection (SQLAlchemy's adapter
    starts it with the first statement and sends nothing for an autocommit connection)."""
    return getattr(dbapi, "_transaction", True) is not None


def listen_round_trips(engine: AsyncEngine, told: RoundTrip) -> Callable[[], None]:
    """Call ``told`` for each round trip ``engine`` makes to PostgreSQL: each statement,
    and each BEGIN, COMMIT and ROLLBACK asyncpg actually sends (none on an autocommit
    connection, none for a transaction that ran no statement). Returns the function that
    stops listening."""
    sync = engine.sync_engine

    def adapter(conn: Any) -> Any:
        try:
            return conn.connection.dbapi_connection
        except exc.PendingRollbackError:  # a failed transaction, about to roll back
            return None

    def statement(conn: Any, cursor: Any, text: str, *_args: Any, **_kw: Any) -> None:
        dbapi = adapter(conn)
        if not _in_transaction(dbapi) and getattr(dbapi, "isolation_level", None) != "autocommit":
            told(dbapi, "begin", "BEGIN")  # sent just before this statement
        told(dbapi, "statement", text)

    def ending(kind: str) -> Callable[..., None]:
        def ended(conn: Any, *_args: Any, **_kw: Any) -> None:
            dbapi = adapter(conn)
            if _in_transaction(dbapi):
                told(dbapi, kind, kind.upper())

        return ended

    listeners = [
        ("before_cursor_execute", statement),
        ("commit", ending("commit")),
        ("rollback", ending("rollback")),
    ]
    for name, fn in listeners:
        event.listen(sync, name, fn)

    def stop() -> None:
        for name, fn in listeners:
            event.remove(sync, name, fn)

    return stop


def count_round_trips(engine: AsyncEngine) -> None:
    """Count every round trip ``engine`` makes (``quanzi_db_round_trips_total{kind}``)."""
    children = {kind: DB_ROUND_TRIPS.labels(kind) for kind in ("statement", "begin", "commit", "rollback")}
    listen_round_trips(engine, lambda _dbapi, kind, _text: children[kind].inc())


def count_after_commit(db: Any, counter: Any, amount: float = 1) -> None:
    """Add ``amount`` to ``counter`` (a metric or a labelled child) once the current
    use-case transaction commits."""

    async def count() -> None:
        counter.inc(amount)

    after_commit(db, count)
