from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictInt

from app.types import RiskProfile


class MemberAttributesIn(BaseModel):
    user_id: str = Field(min_length=1, max_length=40)
    birth_year: StrictInt | None = Field(default=None, ge=1900, le=2100)
    assets_fen: StrictInt | None = Field(default=None, ge=0, le=10**15, description="integer fen")
    allocation: dict[str, StrictInt] | None = Field(
        default=None,
        description="basis points per asset class (deposits, bonds, funds, stocks), summing to "
        "10 000; {} when the member holds no investments",
    )
    risk_level: RiskProfile | None = Field(
        default=None,
        description="the bank's risk assessment (适当性): C1 保守型 … C5 进取型; which products the "
        "member may see (C n: R1–R n) and their cohort's risk level",
    )


class MemberAttributesBatch(BaseModel):
    members: list[MemberAttributesIn] = Field(min_length=1, max_length=1000)


class MemberAttributesResult(BaseModel):
    received: int
    updated: int
    unknown_user: int  # not a Quanzi user: ignored and counted


class Quartiles(BaseModel):
    p25: float
    median: float
    p75: float


class Figure(BaseModel):
    """A cohort's statistic (noised) beside the member's own value; the cohort's part is
    null when fewer than k members of the cohort contributed to it (then nothing is shown)."""

    cohort: Quartiles | None
    mine: float | None = Field(description="my own value; null without my consent or data")
    contributors: Literal["at_least_k", "fewer_than_k"]


class CategorySpending(BaseModel):
    category: str
    cohort_fen: Quartiles | None
    mine_fen: int | None
    contributors: Literal["at_least_k", "fewer_than_k"]


class AllocationReturn(BaseModel):
    horizon_years: Literal[1, 3]
    cohort_pct: float | None = Field(description="the return of the cohort's typical (median) allocation")
    mine_pct: float | None


class Investing(BaseModel):
    typical_allocation: dict[str, float] | None  # weights summing to 1; null: too few investors
    my_allocation: dict[str, float] | None
    returns: list[AllocationReturn]


class Notice(BaseModel):
    zh: str
    en: str


class CohortPublic(BaseModel):
    cells: list[str] = Field(
        description="the cells merged into this cohort: a<age band>-w<asset band>-<risk>"
    )
    age_bands: list[str]
    asset_bands: list[str]
    risk_levels: list[str]
    members_about: int = Field(description="noised member count, rounded to 10; the true count is ≥ k")
    k: int


class InsightsPublic(BaseModel):
    cohort: CohortPublic | None
    missing: list[str] = Field(
        default_factory=list,
        description="why there is no cohort: birth_year, assets, risk_profile (not provided by the "
        "bank), or not_computed (the nightly job has not placed this cell yet)",
    )
    window_days: int
    savings_rate: Figure | None
    spending: list[CategorySpending]
    investing: Investing | None
    epsilon: float = Field(description="the differential-privacy budget of one nightly release")
    computed_at: datetime | None
    notice: Notice
