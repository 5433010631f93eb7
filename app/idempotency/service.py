"""Exactly-once money-moving requests (API.md: ``Idempotency-Key``).

``run`` opens the use case's transaction, runs the action and inserts the (user, key)
record with its response last, in the same transaction. A replay fails that insert at
once and a concurrent duplicate blocks on the primary key until the first commits, then
fails it; either way its transaction, the action's writes included, rolls back and the
stored response is answered: one effect, one stored answer. (A duplicate runs the
action's statements before it finds out, and rolls them back: duplicates are rare, and
every request saves a round trip.) Domain errors (4xx) are
stored too, so a replay answers the same; a different body under the same key is a
``conflict``. Records are kept ``idempotency_ttl_s`` (≥ 24 h) and then swept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import end_read, execute, is_unique_violation, transaction
from app.errors import Conflict, QuanziError, RateLimited
from app.idempotency.models import IdempotencyRecord
from app.runtime import Runtime


@dataclass(frozen=True)
class Outcome:
    status_code: int
    body: dict[str, Any]
    replayed: bool


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _stored(db: AsyncSession, user_id: str, key: str, fp: str) -> Outcome | None:
    if db.in_transaction():
        await db.rollback()  # a failed attempt's transaction
    row = (
        await db.execute(
            select(
                IdempotencyRecord.fingerprint, IdempotencyRecord.status_code, IdempotencyRecord.response_json
            ).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
        )
    ).first()
    await end_read(db)
    if row is None:
        return None
    if row.fingerprint != fp:
        raise Conflict("Idempotency-Key was already used with a different request", idempotency_key=key)
    return Outcome(row.status_code, json.loads(row.response_json), replayed=True)


_KEY_TAKEN = "pk_idempotency_keys"  # the (user, key) primary key

RECORD_SQL = "idempotency_record"
"""SQL (migration 1001): ``idempotency_record(user_id, key, fingerprint, status_code,
response text, now)`` inserts a key's record, for use cases whose SQL function writes it
itself (``Pending.take``): its answer then is the body that function stored."""
_RECORD = text(
    f"SELECT {RECORD_SQL}(:user_id, :key, :fingerprint, CAST(:status_code AS integer), :response_json,"
    " CAST(:created_at AS timestamptz))"
)
_PENDING = "quanzi.idempotency_pending"


@dataclass
class Pending:
    """The record ``run`` will write after the action, unless the action's own SQL
    function writes it (``take``): one statement fewer."""

    user_id: str
    key: str
    fingerprint: str
    status_code: int
    body: dict[str, Any] | None = None  # what the action's function stored, once taken
    taken: bool = False

    @staticmethod
    def take(db: AsyncSession) -> Pending | None:
        """The record of the request being run on ``db`` (None outside ``run``), for the
        action to pass to its SQL function (``RECORD_SQL``), which inserts it with the
        response; the action then calls ``stored`` with that response."""
        pending = db.info.get(_PENDING)
        if not isinstance(pending, Pending) or pending.taken:
            return None
        pending.taken = True
        return pending

    def stored(self, body: dict[str, Any]) -> None:
        self.body = body


def key_params(record: Pending | None, prefix: str = "") -> dict[str, Any]:
    """The bind parameters ``{prefix}idem_key``, ``…_fingerprint``, ``…_status`` that hand a
    taken record (``Pending.take``) to a SQL function; all None without one."""
    return {
        f"{prefix}idem_key": record.key if record else None,
        f"{prefix}idem_fingerprint": record.fingerprint if record else None,
        f"{prefix}idem_status": record.status_code if record else None,
    }


async def _insert(
    db: AsyncSession, rt: Runtime, *, user_id: str, key: str, fp: str, status_code: int, body: dict[str, Any]
) -> None:
    values = {
        "user_id": user_id,
        "key": key,
        "fingerprint": fp,
        "status_code": status_code,
        "response_json": json.dumps(body),
        "created_at": rt.clock.now(),
    }
    await execute(db, _RECORD, values)


async def run(
    db: AsyncSession,
    rt: Runtime,
    *,
    user_id: str,
    key: str,
    fp: str,
    action: Callable[[], Awaitable[BaseModel]],
    status_code: int = 200,
    autocommit: bool = False,
) -> Outcome:
    """Run ``action`` once per (user, key) inside one transaction. Raises Conflict.

    ``autocommit``: the action is one statement, its own transaction (``app.uow``), which
    must write the record itself (``Pending.take``) — no BEGIN/COMMIT round trips.

    There is no read first, and the record is written last, with its answer, in the
    action's transaction (one statement fewer than claiming first and storing after; none
    when the action's SQL function writes it: ``Pending.take``): its insert finds a
    replay (it fails at once on the stored row) or a concurrent duplicate (it waits for
    the other's commit, then fails), and the failure rolls back the action's writes, so
    there is one effect and the stored answer is replayed."""
    pending = Pending(user_id, key, fp, status_code)
    try:
        async with transaction(db, autocommit=autocommit):
            db.info[_PENDING] = pending
            try:
                result = await action()
            finally:
                db.info.pop(_PENDING, None)
            if pending.taken:
                if pending.body is None:
                    raise RuntimeError("an action took the idempotency record and did not store it")
                body = pending.body
            elif autocommit:  # its statement has committed without the record: a bug
                raise RuntimeError("an autocommit action must write its idempotency record (Pending.take)")
            else:
                body = result.model_dump(mode="json")
                # The key's record, last: a concurrent duplicate waits here on the primary key.
                await _insert(db, rt, user_id=user_id, key=key, fp=fp, status_code=status_code, body=body)
        return Outcome(status_code, body, replayed=False)
    except IntegrityError as exc:
        if not is_unique_violation(exc, _KEY_TAKEN):
            raise
        prior = await _stored(db, user_id, key, fp)
        if prior is None:
            raise
        return prior
    except RateLimited:
        raise  # not executed: nothing to remember
    except QuanziError as exc:
        return await _remember_error(db, rt, user_id=user_id, key=key, fp=fp, exc=exc)


async def _remember_error(
    db: AsyncSession, rt: Runtime, *, user_id: str, key: str, fp: str, exc: QuanziError
) -> Outcome:
    try:
        async with transaction(db, autocommit=True):  # one statement
            await _insert(db, rt, user_id=user_id, key=key, fp=fp, status_code=exc.status, body=exc.body())
    except IntegrityError as again:
        if not is_unique_violation(again, _KEY_TAKEN):
            raise
        prior = await _stored(db, user_id, key, fp)
        if prior is not None:
            return prior
    raise exc


async def sweep(rt: Runtime) -> int:
    """Forget records older than the retention period; returns how many."""
    cutoff = rt.clock.now() - timedelta(seconds=rt.settings.idempotency_ttl_s)
    async with rt.sessionmaker() as db, transaction(db):
        result = await db.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
