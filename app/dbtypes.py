"""Column types shared by every feature's tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, TypeDecorator
from sqlmodel import Field


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out (``timestamptz``); a naive datetime is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC)


def at_field(*, nullable: bool = False, index: bool = False, default: Any = ...) -> Any:
    """A ``*_at`` column: UTC, timezone-aware."""
    if default is ... and nullable:
        default = None
    return Field(default=default, sa_type=UTCDateTime(), nullable=nullable, index=index)


def fen_field(*, default: Any = ..., index: bool = False) -> Any:
    """A money column in integer fen (64-bit)."""
    return Field(default=default, sa_type=BigInteger(), index=index)
