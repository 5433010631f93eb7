"""Stale-tolerant reads on a streaming replica (app/replicas.py), against a real standby.

The module starts its own primary (``wal_level=replica``) and a ``pg_basebackup -R``
standby in a temporary directory (tests/support/pgreplica.py) and runs the service on
them: the primary as ``database_url``, the standby as ``database_replica_urls``. Replay
on the standby is paused (``pg_wal_replay_pause()``) to make it lag on purpose.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from app import embedded_pg
from app.config import Settings
from app.replicas import READS
from tests.content.helpers import feed_ids, new_post
from tests.support import backends, pgreplica

pytestmark = pytest.mark.skipif(
    pgreplica.bin_dir() is None and not backends.CI, reason="no PostgreSQL binaries with pg_basebackup"
)


@pytest.fixture(scope="module")
def pair() -> Iterator[pgreplica.Pair]:
    with pgreplica.primary_and_standby() as p:
        yield p


@pytest.fixture(scope="module")
def replica_db(pair: pgreplica.Pair, base_settings: Settings) -> str:
    """The service's database, created and migrated on the primary (and so on the standby)."""
    name = f"quanzi_replica_{uuid.uuid4().hex[:8]}"
    embedded_pg.create_database(pair.primary_url(), name)
    backends.migrate(base_settings.model_copy(update={"database_url": pair.primary_url(name)}))
    pair.wait_caught_up()
    return name


@pytest.fixture
def settings(settings: Settings, pair: pgreplica.Pair, replica_db: str) -> Settings:
    return settings.model_copy(
        update={
            "database_url": pair.primary_url(replica_db),
            "database_replica_urls": pair.standby_url(replica_db),
            "replica_max_lag_s": 3600.0,  # lag within the bound unless a test lowers it
            "replica_lag_check_s": 0.0,  # measure on every read: the test moves the standby
            "db_pool_size": 4,
        }
    )


@pytest.fixture
def standby(pair: pgreplica.Pair) -> Iterator[psycopg.Connection]:
    """A connection to the standby that can pause its replay; resumed at the end."""
    with psycopg.connect(pair.standby_url(), autocommit=True) as conn:
        try:
            yield conn
        finally:
            conn.execute("SELECT pg_wal_replay_resume()")
            pair.wait_caught_up()


def replica_reads() -> float:
    return sum(READS.labels("replica", reason)._value.get() for reason in ("fresh",))


async def test_reads_go_to_the_replica_and_own_writes_are_read_back(client, users, rt, pair, standby):
    alice, bob = await users.make("alice"), await users.make("bob")
    pair.wait_caught_up()
    before = replica_reads()
    assert await feed_ids(client, bob, "latest") == []
    assert replica_reads() == before + 1, "a fresh replica serves the feed"

    standby.execute("SELECT pg_wal_replay_pause()")
    post = await new_post(client, alice, text="written while the standby is paused")
    # Bob has written nothing: his read may be stale (within the bound), so the replica
    # answers, without Alice's new post.
    assert await feed_ids(client, bob, "latest") == []
    assert replica_reads() == before + 2
    # Alice reads her own write at once: the replica has not replayed it, so the primary answers.
    assert await feed_ids(client, alice, "latest") == [post["id"]]
    assert replica_reads() == before + 2

    standby.execute("SELECT pg_wal_replay_resume()")
    pair.wait_caught_up()
    # Replayed past Alice's write: her reads go back to the replica, and see it.
    assert await feed_ids(client, alice, "latest") == [post["id"]]
    assert await feed_ids(client, bob, "latest") == [post["id"]]
    assert replica_reads() == before + 4


async def test_a_replica_lagging_past_the_bound_is_bypassed(client, users, rt, pair, standby):
    alice, bob = await users.make("alice"), await users.make("bob")
    rt.replicas.settings = rt.settings.model_copy(update={"replica_max_lag_s": 0.0})
    pair.wait_caught_up()
    standby.execute("SELECT pg_wal_replay_pause()")
    post = await new_post(client, alice, text="the standby falls behind")
    before = replica_reads()
    # The standby has not replayed the primary's latest WAL: any lag is above the bound of 0,
    # so even a reader who wrote nothing is served by the primary, and sees the post.
    assert await feed_ids(client, bob, "latest") == [post["id"]]
    assert replica_reads() == before


async def test_statement_and_history_read_own_writes(client, users, rt, pair, standby):
    alice, bob = await users.make("alice", balance_fen=5_000), await users.make("bob")
    await users.friends(alice, bob)
    conv = (
        await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    ).json()
    pair.wait_caught_up()
    standby.execute("SELECT pg_wal_replay_pause()")
    r = await client.post(
        "/v1/transfers",
        json={"to_user_id": bob.id, "amount_fen": 1_200},
        headers=alice.headers | {"Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code in (200, 201), r.text
    lines = (await client.get("/v1/wallet/statement", headers=alice.headers)).json()["items"]
    assert [line["amount_fen"] for line in lines][:1] == [-1_200], lines
    r = await client.post(
        f"/v1/conversations/{conv['id']}/messages",
        json={"cid": "c1", "body": {"kind": "text", "text": "read me back"}},
        headers=alice.headers,
    )
    assert r.status_code in (200, 201), r.text
    history = (await client.get(f"/v1/conversations/{conv['id']}/messages", headers=alice.headers)).json()
    assert [m["body"].get("text") for m in history["items"]][-1:] == ["read me back"], history
