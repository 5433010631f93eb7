"""Database wiring: the async engine, sessions, and the use-case transaction.

Every use case runs in one unit of work (``app.uow.UnitOfWork``), opened with
``async with transaction(db):``. It commits once and then runs the callbacks queued with
``after_commit`` (WebSocket pushes, notifications), so no event leaves the process for
data that was rolled back; when it rolls back instead, it runs those queued with
``on_rollback`` (undoing a step taken outside the database). The functions here are
thin entry points over that class for code that holds only the session.

The database is PostgreSQL: a server (``QUANZI_DATABASE_URL``) or, by default, the
embedded one (``app/embedded_pg.py``), which ``resolve_database`` starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import CursorResult, Executable, MetaData
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel

from app import embedded_pg
from app.config import Settings
from app.errors import from_database
from app.uow import UnitOfWork

# Constraint names that Alembic can address.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata

AfterCommit = Callable[[], Awaitable[Any]]


def resolve_database(settings: Settings) -> Settings:
    """``settings`` with a database URL: the configured server, or the embedded server
    under ``data_dir``, started (or attached to) now."""
    if settings.database_url:
        return settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.model_copy(update={"database_url": embedded_pg.service_url(settings.data_dir)})


def make_engine(settings: Settings) -> AsyncEngine:
    # Connections are kept, not churned: an overflow connection is closed when returned, and
    # opening one (a PostgreSQL backend, asyncpg's type setup, re-preparing every statement)
    # costs more than the request that needed it. So most of the budget is pool, little is
    # overflow; workers × (pool + overflow) must stay under PostgreSQL's max_connections.
    return create_async_engine(
        resolve_database(settings).sqlalchemy_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size // 4,
        pool_timeout=settings.db_pool_timeout_s,
        pool_pre_ping=False,
    )


def make_sessionmaker(
    engine: AsyncEngine, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``engine``; ``info`` is copied into each session's ``info``."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True, info=info)


def after_commit(db: AsyncSession, callback: AfterCommit) -> None:
    """Queue ``callback`` to run once the current unit of work has committed. Raises
    RuntimeError outside one (the callback would never run)."""
    UnitOfWork.require(db).after_commit(callback)


def on_rollback(db: AsyncSession, callback: AfterCommit) -> None:
    """Queue ``callback`` to run if the current unit of work rolls back, whatever failed
    (the use case, a later step, the commit). Raises RuntimeError outside one."""
    UnitOfWork.require(db).on_rollback(callback)


async def last_in_transaction(db: AsyncSession, step: Callable[[], Awaitable[Any]]) -> None:
    """Run ``step`` as the unit of work's last writes, just before it commits (now, outside
    one). For a write that locks a row many requests share, such as a conversation's
    ``last_seq``: it then holds that lock only for the commit."""
    uow = UnitOfWork.current(db)
    if uow is None:
        await step()
    else:
        await uow.last(step)


def wrote_for(db: AsyncSession, user_ids: set[str]) -> None:
    """Say whose writes the current unit of work holds (a batch of several users' sends),
    instead of the acting user's: each then reads them back on replicas (app/replicas.py)."""
    UnitOfWork.require(db).writers = set(user_ids)


def in_unit_of_work(db: AsyncSession) -> bool:
    """True while a use case's unit of work is open on ``db``."""
    return UnitOfWork.current(db) is not None


@asynccontextmanager
async def transaction(db: AsyncSession, *, autocommit: bool = False) -> AsyncIterator[AsyncSession]:
    """The use case's one transaction (``app.uow.UnitOfWork`` on ``db``): its last steps,
    commit, then the after-commit callbacks; on failure, rollback and the undo callbacks.
    ``autocommit``: the use case is one statement, its own transaction (see UnitOfWork)."""
    async with UnitOfWork(db, autocommit=autocommit):
        yield db


async def reads_alone(db: AsyncSession) -> AsyncSession:
    """Let ``db``'s statements run each on its own, with no BEGIN and COMMIT round trips:
    for reads that need no snapshot across statements (a lookup, a cache fill). Call it
    before ``db``'s first statement; ``end_read`` gives the connection back."""
    await db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return db


async def end_read(db: AsyncSession) -> None:
    """End a read's implicit transaction without expiring the objects it loaded."""
    if db.in_transaction():
        await db.commit()


async def execute(db: AsyncSession, statement: Executable, params: Any = None) -> CursorResult[Any]:
    """Run a Core statement on the session's connection, skipping the ORM's per-statement
    work (hot paths build their statements once, with bind parameters, and run them here).
    A domain error raised by one of the database's functions (``qz_raise``, SQLSTATE
    QZ001) arrives as its ``QuanziError`` (``app.errors.from_database``)."""
    conn = await db.connection()
    try:
        return await conn.execute(statement, params)
    except DBAPIError as exc:
        domain = from_database(exc)
        if domain is None:
            raise
        raise domain from None


UNIQUE_VIOLATION = "23505"
DEADLOCK_DETECTED = "40P01"


def is_deadlock(exc: Exception) -> bool:
    """True when PostgreSQL aborted the statement to break a deadlock (SQLSTATE 40P01)."""
    return getattr(getattr(exc, "orig", exc), "sqlstate", None) == DEADLOCK_DETECTED


def is_unique_violation(exc: Exception, constraint: str | None = None) -> bool:
    """True when an IntegrityError is PostgreSQL's unique violation (SQLSTATE 23505), on
    ``constraint`` when one is named (its name from the schema's naming convention)."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) != UNIQUE_VIOLATION:
        return False
    driver_error = getattr(orig, "orig", None) or orig.__cause__  # asyncpg's, which names it
    return constraint is None or getattr(driver_error, "constraint_name", None) == constraint
