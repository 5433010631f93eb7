"""Profile: partners' scenario events with consent checks and tag updates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.dialects.postgresql import insert

from app.db import transaction
from app.profile.models import Consent
from scripts.benchlib import Bench, Result, measure


async def scenario_ingest(b: Bench) -> Result:
    """Batches of 1 000 scenario events (video and shopping): events/s with each event's
    consent checked and its tags updated; a fifth of the members have not consented to
    shopping (those events are dropped and counted)."""
    people = await b.make_users(b.scale(1000, 200))
    now = b.rt.clock.now()
    rows = [
        {"user_id": p.id, "scenario": s, "granted": True, "share_with_advisor": False, "updated_at": now}
        for n, p in enumerate(people)
        for s in (("video", "shopping") if n % 5 else ("video",))
    ]
    async with b.rt.sessionmaker() as db, transaction(db):
        await db.execute(insert(Consent).values(rows).on_conflict_do_nothing())
    batches, size = b.scale(30, 5), 1000
    series = [f"series {k}" for k in range(50)]
    genres = ["anime", "drama", "documentary", "variety", "sports"]
    headers = {"Authorization": f"Bearer {b.rt.settings.service_token}"}

    def event(n: int, i: int) -> dict[str, Any]:
        user_id = people[(n * size + i) % len(people)].id
        at = (now - timedelta(minutes=i % 600)).isoformat()
        if i % 4 == 0:
            attributes = {"category": genres[i % 5] + " merch", "amount_fen": 100 + i}
            return {"event_id": f"sb-{n}-{i}", "user_id": user_id, "scenario": "shopping",
                    "type": "purchased", "attributes": attributes, "occurred_at": at}  # fmt: skip
        attributes = {"series": series[i % 50], "genre": genres[i % 5], "minutes": 24}
        return {"event_id": f"sb-{n}-{i}", "user_id": user_id, "scenario": "video",
                "type": "watched", "attributes": attributes, "occurred_at": at}  # fmt: skip

    payloads = [[event(n, i) for i in range(size)] for n in range(batches)]
    answers: list[dict[str, Any]] = []

    async def op(i: int) -> None:
        resp = await b.client.post("/v1/scenarios/events", json={"events": payloads[i]}, headers=headers)
        resp.raise_for_status()
        answers.append(resp.json())

    stats = await measure(op, total=batches, concurrency=4)
    replay = await b.client.post("/v1/scenarios/events", json={"events": payloads[0]}, headers=headers)
    return Result(
        stats=stats,
        extra={
            "events_per_s": round(batches * size / stats.seconds, 1),
            "batch_size": size,
            "accepted": sum(a["accepted"] for a in answers),
            "no_consent": sum(a["no_consent"] for a in answers),
            "replay_duplicates": replay.json().get("duplicates"),
        },
    )


SCENARIOS = {"scenario_ingest": scenario_ingest}
