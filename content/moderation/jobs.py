"""Moderation's periodic job: the review queue's depth, for ``/metrics`` and the dashboard."""

from __future__ import annotations

from app.features import Job
from app.metrics import MODERATION_QUEUE
from app.runtime import Runtime
from content.moderation import service as moderation


async def measure_queue(rt: Runtime) -> int:
    """Set ``quanzi_moderation_queue_depth`` to the number of open items; returns it."""
    async with rt.sessionmaker() as db:
        depth = await moderation.queue_depth(db)
    MODERATION_QUEUE.set(depth)
    return depth


JOBS = [Job("moderation_queue_depth", 10.0, measure_queue)]
