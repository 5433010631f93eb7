"""Cross-scenario offers over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

Key = Annotated[str, Field(min_length=1, max_length=32)]
MatchValue = Annotated[str, Field(min_length=1, max_length=200)] | StrictInt


class OfferRuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64)]
    scenario: Key = Field(description="the partner scenario whose event triggers the offer")
    event_type: Key
    match: dict[Key, MatchValue] = Field(
        default_factory=dict,
        max_length=10,
        description="attributes the event must have, equal (strings compared case- and width-folded)",
    )
    offer_scenario: Key = Field(description="another partner scenario, where the offer is used")
    title: Annotated[str, Field(min_length=1, max_length=80)]
    body: Annotated[str, Field(max_length=300)] = ""
    code: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
    valid_days: StrictInt = Field(default=30, ge=1, le=365)


class OfferRulePublic(BaseModel):
    id: str
    name: str
    scenario: str
    event_type: str
    match: dict[str, str | int]
    offer_scenario: str
    title: str
    body: str
    code: str
    valid_days: int
    active: bool
    issued: int = Field(description="offers issued under this rule")
    created_at: datetime


class OfferPublic(BaseModel):
    id: str
    rule_id: str
    scenario: str = Field(description="the partner's app where it is used")
    title: str
    body: str
    code: str
    because: str = Field(description="the scenario whose event earned it")
    issued_at: datetime
    expires_at: datetime
