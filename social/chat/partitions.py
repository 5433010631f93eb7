"""The messages table's month partitions: made ahead, dropped past the retention.

``messages`` is ``PARTITION BY RANGE (created_at)`` (migration 1900): one partition per
UTC month, ``messages_pYYYYMM``, and ``messages_default`` for rows outside every month
made so far. The daily job ``chat_message_partitions`` (``maintain``), on the business
clock:

- makes the current month and ``chat_message_months_ahead`` months after it; rows that
  reached the default partition for a month being made (the job had not run; the clock
  was moved) are moved into it in the same transaction, so none is lost;
- with ``chat_message_retention_months`` > 0, drops the month partitions that ended
  before the first day of the month that many months back (``DROP TABLE``: instant, no
  vacuum), and deletes such old rows from the default partition. A conversation's
  ``last_seq`` stays; ``sync`` and history then start at the oldest message kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.runtime import Runtime

PARENT = "messages"
DEFAULT = "messages_default"
_NAME = re.compile(r"^messages_p(\d{4})(\d{2})$")


def month_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def add_months(month: datetime, n: int) -> datetime:
    index = month.year * 12 + month.month - 1 + n
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(month: datetime) -> str:
    return f"messages_p{month.year:04d}{month.month:02d}"


def is_partition(name: str) -> bool:
    """True for the names of the messages table's partitions."""
    return name == DEFAULT or _NAME.match(name) is not None


@dataclass
class Maintained:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    moved_rows: int = 0
    deleted_rows: int = 0


async def existing(conn: AsyncConnection) -> set[str]:
    rows = await conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = CAST(:parent AS regclass)"
        ),
        {"parent": PARENT},
    )
    return {r[0] for r in rows}


async def _lock_referenced(conn: AsyncConnection) -> None:
    """Take first what attaching a partition takes last: SHARE ROW EXCLUSIVE on the tables
    the messages' foreign keys reference (the partition gets the keys). A message's writer
    holds ``conversations`` (its row lock) and then inserts; attaching holds the partitions
    and then wanted ``conversations``: each waited for the other (a deadlock, seen when
    the job ran beside a storm of transfers). Now the job waits for the writers in flight
    and the next ones wait for it (milliseconds, bounded by ``lock_timeout``)."""
    rows = await conn.execute(
        text(
            "SELECT DISTINCT confrelid::regclass::text FROM pg_constraint"
            " WHERE conrelid = CAST(:parent AS regclass) AND contype = 'f' ORDER BY 1"
        ),
        {"parent": PARENT},
    )
    for (table,) in rows.all():
        await conn.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))


async def _make_month(conn: AsyncConnection, month: datetime, done: Maintained) -> None:
    name, lo, hi = partition_name(month), month, add_months(month, 1)
    # Made detached, filled from the default partition, then attached: attaching checks
    # that the default holds no row of the month any more.
    await conn.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    bounds = {"lo": lo, "hi": hi}
    moved = await conn.execute(
        text(f"INSERT INTO {name} SELECT * FROM {DEFAULT} WHERE created_at >= :lo AND created_at < :hi"),
        bounds,
    )
    if moved.rowcount:
        await conn.execute(
            text(f"DELETE FROM {DEFAULT} WHERE created_at >= :lo AND created_at < :hi"), bounds
        )
        done.moved_rows += moved.rowcount
    await conn.execute(
        text(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name}"
            f" FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"
        )
    )
    done.created.append(name)


async def maintain(rt: Runtime) -> Maintained:
    """Make the months ahead and drop those past the retention (see the module docstring)."""
    settings = rt.settings
    this_month = month_start(rt.clock.now())
    done = Maintained()
    async with rt.engine.begin() as conn:
        await conn.execute(text("SET LOCAL lock_timeout = '5s'"))
        have = await existing(conn)
        months = [add_months(this_month, n) for n in range(settings.chat_message_months_ahead + 1)]
        missing = [m for m in months if partition_name(m) not in have]
        if missing:
            await _lock_referenced(conn)
        for month in missing:
            await _make_month(conn, month, done)
        keep = settings.chat_message_retention_months
        if keep > 0:
            cutoff = add_months(this_month, -keep)  # months ending on or before this go
            for name in sorted(have):
                m = _NAME.match(name)
                if m and add_months(datetime(int(m[1]), int(m[2]), 1, tzinfo=UTC), 1) <= cutoff:
                    if not missing and not done.dropped:  # dropping the keys locks as adding them
                        await _lock_referenced(conn)
                    await conn.execute(text(f"DROP TABLE {name}"))
                    done.dropped.append(name)
            old = await conn.execute(
                text(f"DELETE FROM {DEFAULT} WHERE created_at < :cutoff"), {"cutoff": cutoff}
            )
            done.deleted_rows = old.rowcount or 0
    return done
