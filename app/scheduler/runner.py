"""The periodic job runner: every registered job runs once per deployment on its schedule.

Features register jobs (``jobs.py`` with ``JOBS``, see ``app.features``). Each worker runs
a ``JobRunner``; its loop (``loop``) wakes every ``jobs_poll_s`` wall seconds and calls
``run_due``, which for each job:

1. takes the job's PostgreSQL advisory lock on a connection of its own
   (``pg_try_advisory_lock``; per database, so per deployment): a run still going on
   another worker is never overlapped — that worker has it;
2. claims the due slot in ``job_schedule`` with one conditional upsert
   (``next_run_at <= now`` → ``now + interval``): of the workers that find a job due,
   exactly one claims it, so a 60 s job runs once a minute per deployment, not once a
   minute per worker;
3. runs it; a failing run is logged and recorded (``last_error``, ``failures``) and the
   job runs again at its next slot; the lock is released either way.

Schedules are on the business clock (``rt.clock``): tests and ``POST /v1/dev/clock`` move
the clock and call ``run_due`` — nothing waits on wall time but the loop's poll. A job
never seen before is due at once (a sweep catches up after downtime).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.scheduler.models import JobSchedule

if TYPE_CHECKING:
    from app.features import Job
    from app.runtime import Runtime

log = structlog.get_logger()

WAIT_FOR_LOCK_S = 30  # run_due(wait=True): how long to wait for a run on another worker


class Outcome(StrEnum):
    RAN = "ran"
    FAILED = "failed"
    NOT_DUE = "not_due"
    BUSY = "busy"  # running on another worker


@dataclass(frozen=True)
class Run:
    job: str
    outcome: Outcome
    result: Any = None


def lock_key(job_name: str) -> int:
    """The job's advisory lock key: a signed 64-bit number from its name."""
    digest = hashlib.blake2b(f"quanzi.job:{job_name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class JobRunner:
    def __init__(self, rt: Runtime, jobs: Sequence[Job]) -> None:
        names = [j.name for j in jobs]
        if len(names) != len(set(names)):
            raise ValueError(f"job names must be unique: {names}")
        self.rt = rt
        self.jobs = tuple(jobs)

    async def run_due(self, *, force: bool = False, wait: bool = False) -> list[Run]:
        """Run every job that is due now (all of them with ``force``), one after another.
        With ``wait``, a job running on another worker is waited for instead of skipped."""
        return [await self.run_job(job, force=force, wait=wait) for job in self.jobs]

    async def run_job(self, job: Job, *, force: bool = False, wait: bool = False) -> Run:
        key = lock_key(job.name)
        async with self.rt.engine.connect() as conn:
            if not await self._lock(conn, key, wait=wait):
                return Run(job.name, Outcome.BUSY)
            try:
                now = self.rt.clock.now()
                if not await self._claim(conn, job, now, force=force):
                    return Run(job.name, Outcome.NOT_DUE)
                try:
                    result = await job.run(self.rt)
                except Exception as exc:
                    log.exception("job_failed", job=job.name)
                    await self._finish(conn, job, error=f"{type(exc).__name__}: {exc}"[:500])
                    return Run(job.name, Outcome.FAILED)
                await self._finish(conn, job, error=None)
                return Run(job.name, Outcome.RAN, result)
            finally:
                await self._unlock(conn, key)

    async def loop(self) -> None:
        """Run due jobs every ``jobs_poll_s`` seconds until cancelled; never dies of a failure."""
        while True:
            await asyncio.sleep(self.rt.settings.jobs_poll_s)
            try:
                await self.rt.sync_clock()
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away: try again at the next poll
                log.exception("jobs_poll_failed")

    # -- the steps ------------------------------------------------------------------------

    @staticmethod
    async def _lock(conn: AsyncConnection, key: int, *, wait: bool) -> bool:
        if not wait:
            got = bool(await conn.scalar(select(func.pg_try_advisory_lock(key))))
            await conn.commit()
            return got
        async with conn.begin():
            # A session-level lock outlives this transaction; lock_timeout bounds the wait.
            await conn.execute(select(func.set_config("lock_timeout", f"{WAIT_FOR_LOCK_S}s", True)))
            await conn.execute(select(func.pg_advisory_lock(key)))
        return True

    @staticmethod
    async def _unlock(conn: AsyncConnection, key: int) -> None:
        await conn.execute(select(func.pg_advisory_unlock(key)))
        await conn.commit()

    @staticmethod
    async def _claim(conn: AsyncConnection, job: Job, now: datetime, *, force: bool) -> bool:
        """Move the job's next slot past ``now`` if it is due (always with ``force``);
        True when this call did."""
        nxt = now + timedelta(seconds=job.interval_s)
        stmt = insert(JobSchedule).values(name=job.name, next_run_at=nxt, last_started_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"next_run_at": nxt, "last_started_at": now},
            where=None if force else JobSchedule.next_run_at <= now,
        ).returning(JobSchedule.name)
        claimed = (await conn.execute(stmt)).first() is not None
        await conn.commit()
        return claimed

    async def _finish(self, conn: AsyncConnection, job: Job, *, error: str | None) -> None:
        counts = (
            {"failures": JobSchedule.failures + 1} if error is not None else {"runs": JobSchedule.runs + 1}
        )
        await conn.execute(
            update(JobSchedule)
            .where(JobSchedule.name == job.name)
            .values(last_finished_at=self.rt.clock.now(), last_error=error, **counts)
        )
        await conn.commit()
