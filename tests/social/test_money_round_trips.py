"""Money requests in few round trips: what each sends to PostgreSQL, counted on the engine
(every statement, BEGIN, COMMIT and ROLLBACK, as ``quanzi_db_round_trips_total``). The
use case's transaction is BEGIN, one call of its SQL function, COMMIT; around it the
request authenticates (one statement) and, after the commit, pushes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.social.money_support import idem, make_group


@contextmanager
def round_trips(rt: Any) -> Iterator[list[tuple[int, str]]]:
    """(connection, statement's first line or BEGIN/COMMIT/ROLLBACK) as the engine sends them."""
    sent: list[tuple[int, str]] = []
    sync = rt.engine.sync_engine

    def statement(conn: Any, cursor: Any, text: str, *args: Any, **kw: Any) -> None:
        sent.append((id(conn), text.strip().split("\n")[0]))

    def command(name: str) -> Any:
        return lambda conn, *args, **kw: sent.append((id(conn), name))

    listeners = [
        ("before_cursor_execute", statement),
        ("begin", command("BEGIN")),
        ("commit", command("COMMIT")),
        ("rollback", command("ROLLBACK")),
    ]
    for name, fn in listeners:
        event.listen(sync, name, fn)
    try:
        yield sent
    finally:
        for name, fn in listeners:
            event.remove(sync, name, fn)


def use_case(sent: list[tuple[int, str]], call: str) -> list[str]:
    """The transaction around the statement that starts with ``call``, on its connection:
    BEGIN … COMMIT (other connections' work, such as pushes after the commit, left out)."""
    conn = next(c for c, s in sent if s.startswith(call))
    mine = [s.split("(")[0] for c, s in sent if c == conn]
    at = next(i for i, s in enumerate(mine) if s.startswith(call))
    begin = max(i for i in range(at) if mine[i] == "BEGIN")
    end = next(i for i in range(at, len(mine)) if mine[i] in ("COMMIT", "ROLLBACK"))
    return mine[begin : end + 1]


async def test_a_grab_is_one_statement_between_begin_and_commit(client, rt, users):
    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob")
    carol = await users.make("carol")
    conv = await make_group(rt, [alice, bob, carol])
    body = {"conversation_id": conv, "total_fen": 100, "count": 2, "mode": "random"}
    packet = (await client.post("/v1/red-packets", json=body, headers=idem(alice))).json()["id"]
    await client.post(f"/v1/red-packets/{packet}/grab", headers=idem(carol))  # the gate learns the packet
    await client.get("/v1/me", headers=bob.headers)  # his activity stamp, throttled from now on
    with round_trips(rt) as sent:
        r = await client.post(f"/v1/red-packets/{packet}/grab", headers=idem(bob))
    assert r.status_code == 200, r.text
    # Authentication: one read on its own connection, ended by COMMIT or ROLLBACK (a
    # read-only transaction ends either way); pushes after the commit use other connections.
    auth = [s for c, s in sent if c == sent[0][0]][:3]
    assert (
        auth[0] == "BEGIN" and auth[1].startswith("SELECT users.id") and auth[2] in ("COMMIT", "ROLLBACK")
    ), sent
    assert use_case(sent, "SELECT * FROM red_packet_grab") == [
        "BEGIN",
        "SELECT * FROM red_packet_grab",
        "COMMIT",
    ], sent


async def test_a_transfer_and_its_acceptance_are_one_statement_each(client, rt, users):
    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob")
    await users.friends(alice, bob)
    body = {"to_user_id": bob.id, "amount_fen": 100}
    first = await client.post("/v1/transfers", json=body, headers=idem(alice))  # opens their chat
    assert first.status_code == 201, first.text
    await client.get("/v1/me", headers=bob.headers)  # his activity stamp, throttled from now on
    with round_trips(rt) as sent:
        r = await client.post("/v1/transfers", json=body, headers=idem(alice))
    assert r.status_code == 201, r.text
    assert use_case(sent, "SELECT * FROM transfer_create") == [
        "BEGIN",
        "SELECT * FROM transfer_create",
        "COMMIT",
    ], sent
    with round_trips(rt) as sent:
        r = await client.post(f"/v1/transfers/{r.json()['id']}/accept", headers=idem(bob))
    assert r.status_code == 200, r.text
    assert use_case(sent, "SELECT * FROM transfer_settle") == [
        "BEGIN",
        "SELECT * FROM transfer_settle",
        "COMMIT",
    ], sent
