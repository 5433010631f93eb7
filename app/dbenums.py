"""Status and mode columns: a ``StrEnum`` in Python, a CHECK constraint in the schema.

    class TransferStatus(StrEnum): ...
    status: TransferStatus = enum_field(TransferStatus, default=TransferStatus.PENDING)
    __table_args__ = (one_of("status", TransferStatus),)

The column stays a plain ``varchar`` (no PostgreSQL enum type, so adding a value is a
constraint change, not a type migration); the CHECK keeps anything else out.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint
from sqlmodel import AutoString, Field


def one_of(column: str, values: type[StrEnum]) -> CheckConstraint:
    """``CHECK (column IN (…))``, named ``ck_<table>_<column>_valid`` by the naming convention."""
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_valid")


def enum_field(values: type[StrEnum], *, default: Any = ..., max_length: int = 12, **field: Any) -> Any:
    """A varchar column holding one of ``values`` (SQLModel would otherwise make a PG enum)."""
    longest = max(len(v.value) for v in values)
    assert longest <= max_length, f"{values.__name__} value longer than {max_length}"
    return Field(default=default, max_length=max_length, sa_type=AutoString(length=max_length), **field)
