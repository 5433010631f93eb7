"""Messages in month partitions (migration 1900, social/chat/partitions.py), across a
month boundary on the frozen clock: made ahead, rows never lost, old months dropped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from social.chat import partitions

BEFORE_DECEMBER = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)


async def send(client, person, conversation_id: str, text_: str, cid: str):
    r = await client.post(
        f"/v1/conversations/{conversation_id}/messages",
        json={"cid": cid, "body": {"kind": "text", "text": text_}},
        headers=person.headers,
    )
    assert r.status_code == 200, r.text
    return r.json()


async def history(client, person, conversation_id: str) -> list[str]:
    r = await client.get(f"/v1/conversations/{conversation_id}/messages", headers=person.headers)
    assert r.status_code == 200, r.text
    return [m["body"]["text"] for m in r.json()["items"]]


async def where(rt, message_id: str) -> str:
    async with rt.engine.connect() as conn:
        return await conn.scalar(
            text("SELECT tableoid::regclass::text FROM messages WHERE id = :id"), {"id": message_id}
        )


@pytest.mark.clock_start(BEFORE_DECEMBER)
async def test_messages_live_in_their_month_and_old_months_are_dropped(client, users, rt):
    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    conv = (
        await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    ).json()
    november = await send(client, alice, conv["id"], "november", "c-nov")

    done = await partitions.maintain(rt)
    assert await where(rt, november["message_id"]) == "messages_p202611"
    assert {"messages_p202611", "messages_p202612", "messages_p202701"} <= await _existing(rt)
    assert done.dropped == []

    rt.clock.advance(2 * 3600)  # 1 December, 01:00 UTC
    december = await send(client, bob, conv["id"], "december", "c-dec")
    assert await where(rt, december["message_id"]) == "messages_p202612"
    # A resend of November's cid after the boundary is still the same message, stored once.
    again = await send(client, alice, conv["id"], "november", "c-nov")
    assert again["message_id"] == november["message_id"] and again["seq"] == november["seq"]
    assert await history(client, alice, conv["id"]) == ["november", "december"]

    rt.settings = rt.settings.model_copy(update={"chat_message_retention_months": 1})
    rt.clock.advance(32 * 24 * 3600)  # 2 January 2027
    done = await partitions.maintain(rt)
    assert "messages_p202611" in done.dropped and "messages_p202612" not in done.dropped
    assert "messages_p202703" in done.created
    assert await history(client, alice, conv["id"]) == ["december"]
    after = await send(client, alice, conv["id"], "january", "c-jan")
    assert after["seq"] == december["seq"] + 1  # the sequence goes on
    assert await history(client, bob, conv["id"]) == ["december", "january"]


@pytest.mark.clock_start(datetime(2031, 5, 10, tzinfo=UTC))
async def test_rows_in_the_default_partition_move_into_their_month(client, users, rt):
    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    conv = (
        await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    ).json()
    early = await send(client, alice, conv["id"], "before the job ran", "c-1")
    if "messages_p203105" not in await _existing(rt):
        assert await where(rt, early["message_id"]) == "messages_default"
    await partitions.maintain(rt)
    assert await where(rt, early["message_id"]) == "messages_p203105"
    assert await history(client, bob, conv["id"]) == ["before the job ran"]


async def _existing(rt) -> set[str]:
    async with rt.engine.connect() as conn:
        return await partitions.existing(conn)
