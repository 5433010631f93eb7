"""The game rules: one versioned TOML file, validated by pydantic when the service starts.

``rules()`` returns the rules in force (``default.toml`` beside this module, or the file
named by the ``games_rules_file`` setting, ``QUANZI_GAMES_RULES_FILE``). The pure rule functions in ``energy``, ``forest``
and ``farm`` take a ``Rules`` (or its parts) as an argument, so tests pass their own.
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


class Rules(_Strict):
    version: str = Field(min_length=1, max_length=32)
    energy: EnergyRules
    forest: ForestRules
    farm: FarmRules


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
