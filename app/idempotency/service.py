"""Exactly-once money-moving requests (API.md: ``Idempotency-Key``).

``run`` opens the use case's transaction, first inserting the (user, key) record, then
running the action and storing its response in the same transaction. A concurrent
duplicate blocks on the primary key until the first commits, then fails the insert and
answers the stored response: one effect, one stored answer. Domain errors (4xx) are
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
from sqlalchemy import bindparam, delete, insert, select, update
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


_records = IdempotencyRecord.__table__  # type: ignore[attr-defined]
_KEY_TAKEN = "pk_idempotency_keys"  # the (user, key) primary key
_INSERT = insert(_records)
_STORE_RESPONSE = (
    update(_records)
    .where(_records.c.user_id == bindparam("p_user"), _records.c.key == bindparam("p_key"))
    .values(status_code=bindparam("p_status"), response_json=bindparam("p_response"))
)


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
    await execute(db, _INSERT, values)


async def run(
    db: AsyncSession,
    rt: Runtime,
    *,
    user_id: str,
    key: str,
    fp: str,
    action: Callable[[], Awaitable[BaseModel]],
    status_code: int = 200,
) -> Outcome:
    """Run ``action`` once per (user, key) inside one transaction. Raises Conflict.

    There is no read first: the claim insert itself finds a replay (it fails at once on the
    stored row) or a concurrent duplicate (it waits for the other's commit, then fails)."""
    try:
        async with transaction(db):
            # Claim the key first: a concurrent duplicate waits here on the primary key.
            await _insert(db, rt, user_id=user_id, key=key, fp=fp, status_code=0, body={})
            result = await action()
            body = result.model_dump(mode="json")
            response = {
                "p_user": user_id,
                "p_key": key,
                "p_status": status_code,
                "p_response": json.dumps(body),
            }
            await execute(db, _STORE_RESPONSE, response)
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
        async with transaction(db):
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
