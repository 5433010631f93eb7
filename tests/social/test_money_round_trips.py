"""Money requests in few round trips: what each sends to PostgreSQL, as asyncpg puts it
on the wire (every statement, BEGIN, COMMIT and ROLLBACK, as
``quanzi_db_round_trips_total``). A request authenticates (one statement, no
transaction) and runs its use case as one call of its SQL function, its own transaction
(no BEGIN or COMMIT); after it, at most one lookup for the phones to push to."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text

from app.db import transaction
from app.metrics import listen_round_trips
from app.push import service as push
from tests.social.money_support import idem, make_group


@contextmanager
def round_trips(rt: Any) -> Iterator[list[tuple[int, str]]]:
    """(connection, statement's first line or BEGIN/COMMIT/ROLLBACK) as the engine sends
    them (``app.metrics.listen_round_trips``: what asyncpg puts on the wire)."""
    sent: list[tuple[int, str]] = []
    stop = listen_round_trips(
        rt.engine, lambda dbapi, _kind, text: sent.append((id(dbapi), text.strip().split("\n")[0]))
    )
    try:
        yield sent
    finally:
        stop()


def requests_of(sent: list[tuple[int, str]]) -> list[str]:
    """The statements' names (before their arguments), in order."""
    return [text.split("(")[0] for _conn, text in sent]


async def test_sending_and_grabbing_a_packet_are_two_round_trips_each(client, rt, users):
    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob")
    carol = await users.make("carol")
    conv = await make_group(rt, [alice, bob, carol])
    body = {"conversation_id": conv, "total_fen": 100, "count": 2, "mode": "random"}
    await client.get("/v1/me", headers=alice.headers)  # her activity stamp, throttled from now on
    with round_trips(rt) as sent:  # sending it: who, then one call (red_packet_create)
        r = await client.post("/v1/red-packets", json=body, headers=idem(alice))
    assert r.status_code == 201, r.text
    after = ("SELECT users.id, users.display_name", "SELECT push_devices")  # the frame's card, pushes
    assert [n for n in requests_of(sent)[1:] if not n.startswith(after)] == [
        "SELECT * FROM red_packet_create"
    ], sent
    packet = r.json()["id"]
    await client.post(f"/v1/red-packets/{packet}/grab", headers=idem(carol))  # the gate learns the packet
    await client.get("/v1/me", headers=bob.headers)  # his activity stamp, throttled from now on
    await push.drain(rt)
    with round_trips(rt) as sent:
        r = await client.post(f"/v1/red-packets/{packet}/grab", headers=idem(bob))
        await push.drain(rt)
    assert r.status_code == 200, r.text
    names = requests_of(sent)
    assert len(names) == 2 and names[0].startswith("SELECT users.id"), sent  # who is calling
    assert names[1] == "SELECT * FROM red_packet_grab", sent  # the grab: no BEGIN, no COMMIT
    # A refusal: the function says why, and the answer is kept for the key's replays.
    with round_trips(rt) as sent:
        r = await client.post(f"/v1/red-packets/{packet}/grab", headers=idem(alice))
    assert r.status_code == 409 and r.json()["error"]["code"] == "sold_out", r.text
    assert requests_of(sent)[1:] == ["SELECT red_packet_refuse", "SELECT idempotency_record"], sent


async def test_a_transfer_and_its_acceptance_are_three_round_trips_each(client, rt, users):
    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob")
    await users.friends(alice, bob)
    body = {"to_user_id": bob.id, "amount_fen": 100}
    first = await client.post("/v1/transfers", json=body, headers=idem(alice))  # opens their chat
    assert first.status_code == 201, first.text
    await client.get("/v1/me", headers=bob.headers)  # his activity stamp, throttled from now on
    await client.get("/v1/me", headers=alice.headers)
    await push.drain(rt)
    with round_trips(rt) as sent:
        r = await client.post("/v1/transfers", json=body, headers=idem(alice))
        await push.drain(rt)
    assert r.status_code == 201, r.text
    names = requests_of(sent)
    assert names[1] == "SELECT * FROM transfer_create", sent
    # After it, one lookup of Bob's phones (the notification's push; the chat message is
    # not pushed to him a second time).
    assert len(names) == 3 and names[2].startswith("SELECT push_devices"), sent
    with round_trips(rt) as sent:
        r = await client.post(f"/v1/transfers/{r.json()['id']}/accept", headers=idem(bob))
        await push.drain(rt)
    assert r.status_code == 200, r.text
    names = [n for n in requests_of(sent) if not n.startswith("SELECT users.id, users.display_name")]
    assert names[1] == "SELECT * FROM transfer_settle", (
        sent
    )  # (Bob's card, for the chat frame, may be loaded once)
    assert len(names) == 3 and names[2].startswith("SELECT push_devices"), sent


async def test_only_what_is_sent_is_counted(client, rt, users):
    """A read on its own sends no BEGIN or COMMIT; a transaction sends both, once."""
    alice = await users.make("alice")
    await client.get("/v1/me", headers=alice.headers)  # her activity stamp, throttled from now on
    with round_trips(rt) as sent:
        assert (await client.get("/v1/me", headers=alice.headers)).status_code == 200
    assert len(sent) == 1, sent
    with round_trips(rt) as sent:
        async with rt.sessionmaker() as db, transaction(db):
            await db.execute(text("SELECT 1"))
            await db.execute(text("SELECT 2"))
    assert [t for _c, t in sent] == ["BEGIN", "SELECT 1", "SELECT 2", "COMMIT"]


async def test_a_dev_top_up_is_two_round_trips_and_its_key_replays(client, rt, users):
    """Authentication, then one call (wallet_dev_topup) that also stores the key's record:
    the same key again answers the same, and moves nothing."""
    alice = await users.make("alice")
    await client.get("/v1/me", headers=alice.headers)  # her activity stamp, throttled from now on
    headers = idem(alice)
    with round_trips(rt) as sent:
        r = await client.post("/v1/wallet/topup", json={"amount_fen": 500}, headers=headers)
    assert r.status_code == 200, r.text
    names = requests_of(sent)
    assert len(names) == 2 and names[1] == "SELECT * FROM wallet_dev_topup", sent
    assert r.json()["balance_fen"] == 500 and r.json()["amount_fen"] == 500
    again = await client.post("/v1/wallet/topup", json={"amount_fen": 500}, headers=headers)
    assert again.status_code == 200 and again.json() == r.json()
    assert (await client.get("/v1/wallet", headers=alice.headers)).json()["balance_fen"] == 500
