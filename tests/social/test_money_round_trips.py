"""Money requests in few round trips: what each sends to PostgreSQL, counted on the engine
(every statement, BEGIN, COMMIT and ROLLBACK, as ``quanzi_db_round_trips_total``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.social.money_support import idem, make_group


@contextmanager
def round_trips(rt: Any) -> Iterator[list[str]]:
    """The statements (first line) and transaction commands the engine sends meanwhile."""
    sent: list[str] = []
    sync = rt.engine.sync_engine

    def statement(conn: Any, cursor: Any, text: str, *args: Any, **kw: Any) -> None:
        sent.append(text.strip().split("\n")[0])

    def command(name: str) -> Any:
        return lambda *args, **kw: sent.append(name)

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


async def test_a_grab_is_one_statement_between_begin_and_commit(client, rt, users):
    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob")
    carol = await users.make("carol")
    conv = await make_group(rt, [alice, bob, carol])
    body = {"conversation_id": conv, "total_fen": 100, "count": 2, "mode": "random"}
    packet = (await client.post("/v1/red-packets", json=body, headers=idem(alice))).json()["id"]
    await client.post(f"/v1/red-packets/{packet}/grab", headers=idem(carol))  # the gate learns the packet
    with round_trips(rt) as sent:
        r = await client.post(f"/v1/red-packets/{packet}/grab", headers=idem(bob))
    assert r.status_code == 200, r.text
    auth, use_case = sent[:3], sent[3:]
    assert auth[0] == "BEGIN" and auth[1].startswith("SELECT users.id") and auth[2] == "COMMIT"
    assert use_case[0] == "BEGIN" and use_case[-1] == "COMMIT"
    assert [s.split("(")[0] for s in use_case[1:-1]] == ["SELECT * FROM red_packet_grab"], sent


async def test_a_transfer_and_its_acceptance_are_one_statement_each(client, rt, users):
    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob")
    await users.friends(alice, bob)
    body = {"to_user_id": bob.id, "amount_fen": 100}
    first = await client.post("/v1/transfers", json=body, headers=idem(alice))  # opens their chat
    assert first.status_code == 201, first.text
    with round_trips(rt) as sent:
        r = await client.post("/v1/transfers", json=body, headers=idem(alice))
    assert r.status_code == 201, r.text
    assert [s.split("(")[0] for s in sent[3:]] == [
        "BEGIN",
        "SELECT * FROM transfer_create",
        "COMMIT",
    ], sent
    with round_trips(rt) as sent:
        r = await client.post(f"/v1/transfers/{r.json()['id']}/accept", headers=idem(bob))
    assert r.status_code == 200, r.text
    assert [s.split("(")[0] for s in sent[3:]] == [
        "BEGIN",
        "SELECT * FROM transfer_settle",
        "COMMIT",
    ], sent
