"""Column types shared by every feature's tables."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, String, TypeDecorator
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


class EnumText(TypeDecorator[StrEnum]):
    """A ``StrEnum`` stored as ``VARCHAR(n)``: values are checked on the way in and come
    back as enum members. The allowed values are also a CHECK constraint in the schema
    (``enum_check``), so adding a value is a migration that replaces that constraint."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Any) -> StrEnum | None:
        return None if value is None else self.enum(value)


def enum_field(enum: type[StrEnum], *, max_length: int, default: Any = ..., nullable: bool = False) -> Any:
    """A status or kind column holding one of ``enum``'s values (see ``EnumText``)."""
    if default is ... and nullable:
        default = None
    return Field(default=default, sa_type=EnumText(enum, max_length), nullable=nullable)


def enum_check(column: str, enum: type[StrEnum]) -> CheckConstraint:
    """The CHECK constraint ``ck_<table>_<column>``: ``column`` holds one of ``enum``'s values."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=column)
