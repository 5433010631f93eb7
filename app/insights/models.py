"""What the bank tells us of a member for "users like you", and the nightly results.

``MemberAttributes`` is the bank's (``PUT /v1/bank/members/attributes``): birth year,
assets and, for investors, their allocation across asset classes in basis points. The
nightly job replaces ``InsightCohort`` and ``InsightCell`` wholesale: the published
statistics of each cohort and which cell (age band × asset band × risk level) belongs to
which cohort. No row holds a single member's figure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class MemberAttributes(SQLModel, table=True):
    __tablename__ = "member_attributes"

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    birth_year: int | None = Field(default=None)
    assets_fen: int | None = Field(default=None, sa_type=BigInteger())
    # {"deposits": 4000, "funds": 6000}: basis points summing to 10 000; None: not an investor.
    allocation: dict[str, int] | None = Field(default=None, sa_type=JSON())
    updated_at: datetime = at_field()


class InsightCohort(SQLModel, table=True):
    __tablename__ = "insight_cohorts"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    cells: list[str] = Field(sa_type=JSON())
    members_noisy: int
    stats: dict[str, Any] = Field(sa_type=JSON())
    rules_version: str = Field(max_length=32)
    computed_at: datetime = at_field()


class InsightCell(SQLModel, table=True):
    __tablename__ = "insight_cells"

    cell: str = Field(primary_key=True, max_length=32)
    cohort_id: int
