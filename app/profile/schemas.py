from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.types import Timestamp


class ScenarioEventIn(BaseModel):
    event_id: str = Field(min_length=1, max_length=64)
    user_id: str = Field(min_length=1, max_length=40)
    scenario: str = Field(min_length=1, max_length=32)
    type: str = Field(min_length=1, max_length=32)
    attributes: dict[str, Any] = Field(default_factory=dict, max_length=20)
    occurred_at: Timestamp


class ScenarioBatchIn(BaseModel):
    events: list[ScenarioEventIn] = Field(min_length=1, max_length=1000)


EventStatus = Literal["accepted", "duplicate", "no_consent", "rejected"]


class EventOutcome(BaseModel):
    event_id: str
    status: EventStatus
    reason: str | None = Field(
        default=None,
        description="when rejected: unknown_scenario, not_a_partner_scenario, unknown_type, "
        "unknown_attribute, missing_attribute, bad_attribute, occurred_in_future",
    )
    message: str | None = None


class ScenarioBatchResult(BaseModel):
    received: int
    accepted: int  # new events stored (and their tags updated)
    duplicates: int  # event_id seen before, or twice in this batch
    no_consent: int  # the member has not consented to the scenario (or is not ours): dropped, not stored
    rejected: int  # did not fit the registry; see ``results``
    results: list[EventOutcome]


class ConsentPublic(BaseModel):
    scenario: str
    name: str
    description: str
    kind: Literal["partner", "bank"]
    granted: bool
    share_with_advisor: bool
    updated_at: datetime | None


class ConsentsPublic(BaseModel):
    items: list[ConsentPublic]


class ConsentChange(BaseModel):
    scenario: str = Field(min_length=1, max_length=32)
    granted: bool
    share_with_advisor: bool = False


class ConsentsUpdate(BaseModel):
    consents: list[ConsentChange] = Field(min_length=1, max_length=50)


class TagSource(BaseModel):
    scenario: str
    action: str
    count: int
    weight: float
    last_at: datetime
    why: str


class TagPublic(BaseModel):
    tag: str
    kind: str
    label: str
    weight: float = Field(description="Σ of its sources' weights, each decayed to now by the half-life")
    sources: list[TagSource]


class ProfilePublic(BaseModel):
    user_id: str
    as_of: datetime
    half_life_days: float
    tags: list[TagPublic]
