"""The game rules: one versioned TOML file, validated by pydantic when the service starts.

``rules()`` returns the rules in force (``default.toml`` beside this module, or the file
named by the ``games_rules_file`` setting, ``QUANZI_GAMES_RULES_FILE``). The pure rule functions in ``energy``, ``forest``,
``farm`` and ``points`` take a ``Rules`` (or its parts) as an argument, so tests pass their own.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_FILE = Path(__file__).with_name("default.toml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepsRule(_Strict):
    steps_per_gram: int = Field(gt=0)
    max_g_per_day: int = Field(ge=0)
    max_steps_per_day: int = Field(gt=0)


class CategoryRule(_Strict):
    grams: int = Field(ge=0)
    min_amount_fen: int = Field(ge=1)
    cap: int = Field(ge=0)
    cap_period: Literal["day", "month"]


class EnergyRules(_Strict):
    ripen_after_h: float = Field(ge=0)
    expire_after_ripe_h: float = Field(gt=0)
    steps: StepsRule
    categories: dict[str, CategoryRule]


class Species(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    name: str = Field(min_length=1)
    region: str = Field(min_length=1)
    cost_g: int = Field(gt=0)


class ForestRules(_Strict):
    friends_share_pct: int = Field(ge=0, le=100)
    friend_take_pct: int = Field(gt=0, le=100)
    protection_h: float = Field(gt=0)
    watering_grams: list[int] = Field(min_length=1)
    watering_per_friend_per_day: int = Field(ge=0)
    watering_ripen_after_h: float = Field(ge=0)
    stages: list[str] = Field(min_length=1)
    species: list[Species] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_species(self) -> ForestRules:
        ids = [s.id for s in self.species]
        if len(ids) != len(set(ids)):
            raise ValueError("species ids must be unique")
        if any(g <= 0 for g in self.watering_grams):
            raise ValueError("watering amounts must be positive")
        return self

    def species_by_id(self, species_id: str) -> Species | None:
        return next((s for s in self.species if s.id == species_id), None)


class Project(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    name: str = Field(min_length=1)
    eggs_per_unit: int = Field(gt=0)


class FarmRules(_Strict):
    meal_g: int = Field(gt=0)
    meal_duration_h: float = Field(gt=0)
    grams_per_egg: int = Field(gt=0)
    visit_window_h: float = Field(gt=0)
    quiz_reward_g: int = Field(ge=0)
    feed_per_spending_event_g: int = Field(ge=0)
    starting_feed_g: int = Field(ge=0)
    projects: list[Project] = Field(min_length=1)

    def project_by_id(self, project_id: str) -> Project | None:
        return next((p for p in self.projects if p.id == project_id), None)


class TierRule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]{1,16}$")
    name: str = Field(min_length=1)
    min_points: int = Field(ge=0)  # points earned in the rolling window
    earn_multiplier: float = Field(default=1.0, ge=0, le=100)
    monthly_rights: list[str] = Field(default_factory=list)


class Rate(_Strict):
    """``points`` bank points ⇄ ``partner`` partner points (one unit of exchange)."""

    points: int = Field(gt=0)
    partner: int = Field(gt=0)


class PartnerProgramme(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    name: str = Field(min_length=1)
    unit: str = Field(min_length=1)  # what the partner calls its points
    out_rate: Rate  # our points → theirs
    in_rate: Rate  # theirs → our points
    min_points: int = Field(gt=0)  # the smallest exchange, in our points
    daily_cap_points: int = Field(gt=0)  # per member, both directions together
    monthly_cap_points: int = Field(gt=0)
    tier_match: dict[str, str] = Field(default_factory=dict)  # our tier id → their tier


class PointsRules(_Strict):
    fen_per_point: int = Field(default=1000, gt=0)  # card spending: 1 point per 10 yuan, rounded down
    # Per spending category; unlisted categories earn × 1.
    category_multipliers: dict[str, float] = Field(default_factory=lambda: {"bill_payment": 0.0})
    # A lot expires at the end of the calendar year this many years after the year earned.
    expiry_years_after: int = Field(default=1, ge=0, le=10)
    expiry_notice_days: int = Field(default=30, ge=0)
    # Points for achievements other features report (app.hooks.on_milestone), by kind.
    milestones: dict[str, int] = Field(
        default_factory=lambda: {"tree_planted": 100, "referral_converted": 500}
    )
    quiz_streak_days: int = Field(default=7, gt=0)  # every this many right answers in a row …
    quiz_streak_points: int = Field(default=50, ge=0)  # … earn this
    tier_window_months: int = Field(default=12, gt=0)
    tier_grace_days: int = Field(default=90, ge=0, le=400)
    tiers: list[TierRule] = Field(
        default_factory=lambda: [TierRule(id="standard", name="普卡", min_points=0)]
    )
    partners: list[PartnerProgramme] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> PointsRules:
        if not self.tiers or self.tiers[0].min_points != 0:
            raise ValueError("the first tier starts at 0 points")
        if any(b.min_points <= a.min_points for a, b in zip(self.tiers, self.tiers[1:], strict=False)):
            raise ValueError("tiers go up by min_points")
        ids = {t.id for t in self.tiers}
        for p in self.partners:
            if unknown := set(p.tier_match) - ids:
                raise ValueError(f"partner {p.id} matches unknown tiers {sorted(unknown)}")
        if len({p.id for p in self.partners}) != len(self.partners):
            raise ValueError("partner ids must be unique")
        if any(m < 0 for m in self.category_multipliers.values()):
            raise ValueError("multipliers are ≥ 0")
        return self

    def partner(self, programme_id: str) -> PartnerProgramme | None:
        return next((p for p in self.partners if p.id == programme_id), None)


class Rules(_Strict):
    version: str = Field(min_length=1, max_length=32)
    energy: EnergyRules
    forest: ForestRules
    farm: FarmRules
    points: PointsRules = Field(default_factory=PointsRules)


def load(path: Path) -> Rules:
    """Read and validate a rules file. Raises pydantic.ValidationError, OSError, TOMLDecodeError."""
    with path.open("rb") as fh:
        return Rules.model_validate(tomllib.load(fh))


@lru_cache
def _load_once(path: Path) -> Rules:
    return load(path)


def rules() -> Rules:
    """The rules in force for this process (the settings' file, read once)."""
    from app.config import get_settings

    return _load_once(get_settings().games_rules_file or DEFAULT_FILE)
