"""Small SQL helpers the game services share (portable between PostgreSQL and SQLite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case
from sqlalchemy.ext.asyncio import AsyncSession


def insert_ignore(db: AsyncSession, model: Any) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` for the session's dialect (add ``.values(...)``)."""
    if db.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model).on_conflict_do_nothing()


def least(*exprs: Any) -> Any:
    """The smallest of SQL expressions (LEAST on PostgreSQL, MIN(a, b) on SQLite), as a CASE."""
    result = exprs[0]
    for expr in exprs[1:]:
        result = case((expr < result, expr), else_=result)
    return result


def greatest(*exprs: Any) -> Any:
    result = exprs[0]
    for expr in exprs[1:]:
        result = case((expr > result, expr), else_=result)
    return result
