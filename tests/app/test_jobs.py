"""The periodic job runner: each job once per deployment, on the business clock's schedule,
surviving a failing run; the registered jobs; and the dev clock running what became due.

Nothing here waits on wall time: the runners read a frozen clock that the tests move,
and the loop's poll is replaced by a stand-in that counts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app import features
from app.clock import FrozenClock
from app.features import Job
from app.runtime import Runtime, build_runtime
from app.scheduler import runner as runner_module
from app.scheduler.models import JobSchedule
from app.scheduler.runner import JobRunner, Outcome, lock_key
from tests.social.money_support import idem

START = datetime(2026, 12, 1, 15, 59, tzinfo=UTC)


@pytest.fixture
def clock(rt: Runtime) -> FrozenClock:
    rt.clock = FrozenClock(START, tz=rt.settings.timezone)
    return rt.clock


@pytest.fixture
async def second_worker(settings, rt, clock):
    """Another worker of the same deployment: its own engine and pool, the same database
    and (as the dev clock is shared) the same business time."""
    other = build_runtime(settings, clock=clock)
    try:
        yield other
    finally:
        await other.close()


def counting(name: str, interval_s: float = 60.0) -> tuple[Job, list[datetime]]:
    runs: list[datetime] = []

    async def run(rt: Runtime) -> int:
        runs.append(rt.clock.now())
        await asyncio.sleep(0)  # let the other worker try meanwhile
        return len(runs)

    return Job(name, interval_s, run), runs


async def test_a_due_job_runs_once_however_many_workers_look(rt, clock, second_worker):
    job, runs = counting("once")
    workers = [JobRunner(rt, [job]), JobRunner(second_worker, [job])]
    outcomes = await asyncio.gather(*(w.run_due() for w in workers for _ in range(3)))
    assert sorted(o.outcome for [o] in outcomes).count(Outcome.RAN) == 1
    assert runs == [START]


async def test_a_job_runs_again_only_when_its_interval_has_passed(rt, clock, second_worker):
    job, runs = counting("every_minute", interval_s=60)
    a, b = JobRunner(rt, [job]), JobRunner(second_worker, [job])
    await a.run_due()
    clock.advance(59)
    assert [r.outcome for r in await b.run_due()] == [Outcome.NOT_DUE]
    assert [r.outcome for r in await a.run_due()] == [Outcome.NOT_DUE]
    clock.advance(1)
    assert [r.outcome for r in await b.run_due()] == [Outcome.RAN]
    assert [r.outcome for r in await a.run_due()] == [Outcome.NOT_DUE]
    clock.advance(3600)  # down for an hour: one catch-up run, not sixty
    await asyncio.gather(a.run_due(), b.run_due())
    assert runs == [START, START + timedelta(seconds=60), START + timedelta(seconds=3660)]


async def test_a_job_still_running_elsewhere_is_not_started_again(rt, clock):
    job, runs = counting("long")
    async with rt.engine.connect() as holder:  # another worker is in the middle of a run
        await holder.execute(select(func.pg_advisory_lock(lock_key("long"))))
        assert [r.outcome for r in await JobRunner(rt, [job]).run_due()] == [Outcome.BUSY]
        await holder.execute(select(func.pg_advisory_unlock(lock_key("long"))))
        await holder.commit()
    assert [r.outcome for r in await JobRunner(rt, [job]).run_due()] == [Outcome.RAN]
    assert len(runs) == 1


async def test_a_failing_run_is_recorded_and_the_job_runs_at_its_next_slot(rt, clock):
    attempts: list[datetime] = []

    async def flaky(r: Runtime) -> str:
        attempts.append(r.clock.now())
        if len(attempts) == 1:
            raise RuntimeError("the bank's API timed out")
        return "done"

    steady, steady_runs = counting("steady")
    runner = JobRunner(rt, [Job("flaky", 60, flaky), steady])
    first = await runner.run_due()
    assert [(r.job, r.outcome) for r in first] == [("flaky", Outcome.FAILED), ("steady", Outcome.RAN)]
    async with rt.sessionmaker() as db:
        row = await db.get(JobSchedule, "flaky")
    assert row is not None and row.failures == 1 and row.runs == 0
    assert row.last_error == "RuntimeError: the bank's API timed out"
    clock.advance(60)
    second = await runner.run_due()
    assert (second[0].job, second[0].outcome, second[0].result) == ("flaky", Outcome.RAN, "done")
    async with rt.sessionmaker() as db:
        row = await db.get(JobSchedule, "flaky")
    assert row is not None and row.runs == 1 and row.failures == 1 and row.last_error is None
    assert len(steady_runs) == 2


async def test_the_loop_keeps_polling_after_failures(rt, clock, monkeypatch):
    job, runs = counting("polled")
    runner = JobRunner(rt, [job])
    real_run_due = runner.run_due
    polls: list[int] = []

    async def run_due(**kwargs: object) -> object:
        if len(polls) == 2:
            raise OSError("database went away")  # the loop logs it and polls again
        return await real_run_due()

    async def fake_sleep(seconds: float) -> None:
        assert seconds == rt.settings.jobs_poll_s
        polls.append(1)
        clock.advance(60)
        if len(polls) > 4:
            raise asyncio.CancelledError

    monkeypatch.setattr(runner, "run_due", run_due)
    monkeypatch.setattr(runner_module.asyncio, "sleep", fake_sleep)
    with pytest.raises(asyncio.CancelledError):
        await runner.loop()
    assert len(polls) == 5 and len(runs) == 3  # polls 1, 3 and 4 ran it; poll 2 failed


async def test_every_registered_job_runs_on_its_schedule(rt, clock):
    jobs = features.jobs()
    names = {j.name for j in jobs}
    assert {"transfer_refunds", "red_packet_refunds", "idempotency_sweep", "auth_sessions_sweep"} <= names
    runner = JobRunner(rt, jobs)
    assert {r.job: r.outcome for r in await runner.run_due()} == dict.fromkeys(names, Outcome.RAN)
    assert {r.outcome for r in await runner.run_due()} == {Outcome.NOT_DUE}
    clock.advance(max(j.interval_s for j in jobs))
    assert {r.job: r.outcome for r in await runner.run_due()} == dict.fromkeys(names, Outcome.RAN)
    async with rt.sessionmaker() as db:
        rows = (await db.execute(select(JobSchedule))).scalars().all()
    assert {r.name: (r.runs, r.failures) for r in rows} == dict.fromkeys(names, (2, 0))


async def test_job_names_are_unique():
    job, _ = counting("twin")
    with pytest.raises(ValueError, match="unique"):
        JobRunner(object(), [job, job])  # type: ignore[arg-type]


async def test_moving_the_dev_clock_runs_the_refunds_before_answering(client, rt, users):
    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob")
    await users.friends(alice, bob)
    r = await client.post(
        "/v1/transfers", json={"to_user_id": bob.id, "amount_fen": 2_500}, headers=idem(alice)
    )
    assert r.status_code in (200, 201), r.text
    transfer = r.json()
    assert await users.balance(alice) == 7_500
    r = await client.post("/v1/dev/clock", json={"advance_s": 24 * 3600 + 1}, headers=bob.headers)
    assert r.status_code == 200, r.text
    assert {"job": "transfer_refunds", "outcome": "ran"} in r.json()["jobs"]
    got = (await client.get(f"/v1/transfers/{transfer['id']}", headers=alice.headers)).json()
    assert got["status"] == "refunded"
    assert await users.balance(alice) == 10_000


async def test_moving_the_dev_clock_needs_a_login_and_is_logged(client, users, monkeypatch):
    from app.devtools import api as devtools

    logged: list[tuple[str, dict[str, object]]] = []

    class Recorder:
        def info(self, event: str, **fields: object) -> None:
            logged.append((event, fields))

    monkeypatch.setattr(devtools, "log", Recorder())
    assert (await client.post("/v1/dev/clock", json={"advance_s": 60})).status_code == 401
    alice = await users.make("alice")
    r = await client.post("/v1/dev/clock", json={"advance_s": 60}, headers=alice.headers)
    assert r.status_code == 200
    [(event, fields)] = logged
    assert event == "dev_clock_moved" and fields["by"] == alice.id and fields["advance_s"] == 60
