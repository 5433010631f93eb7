"""Consents per scenario, scenario events as kept, and the evidence behind each tag.

A tag's weight is never rescanned: each ``TagEvidence`` row keeps the weight it had at
``updated_at``; the weight now is that times 2^(−age / half-life) (``app.profile.decay``),
and new evidence adds to the decayed value in one upsert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class Consent(SQLModel, table=True):
    """A member's consent for one scenario (a partner's app, or one of the bank's own
    sources: card spending, games, content). No row: not granted."""

    __tablename__ = "profile_consents"

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    scenario: str = Field(primary_key=True, max_length=32)
    granted: bool = Field(default=False)
    share_with_advisor: bool = Field(default=False)
    updated_at: datetime = at_field()


class ScenarioEvent(SQLModel, table=True):
    """A partner's behaviour event, kept only while its scenario is consented to; the
    primary key makes a replayed ``event_id`` a no-op."""

    __tablename__ = "scenario_events"
    __table_args__ = (Index("ix_scenario_events_user_id_scenario", "user_id", "scenario"),)

    event_id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", max_length=40)
    scenario: str = Field(max_length=32)
    type: str = Field(max_length=32)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_type=JSON())
    occurred_at: datetime = at_field()
    received_at: datetime = at_field()


class TagEvidence(SQLModel, table=True):
    """Why a member holds a tag: one row per (tag, source, action), e.g. ("topic:funds",
    "content", "read") with how often and the weight it had at ``updated_at``."""

    __tablename__ = "profile_tag_evidence"
    # audiences find a tag's holders by the tag (app/audiences)
    __table_args__ = (Index("ix_profile_tag_evidence_tag_user_id", "tag", "user_id"),)

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    tag: str = Field(primary_key=True, max_length=80)
    source: str = Field(primary_key=True, max_length=32)  # the scenario it needs consent for
    action: str = Field(primary_key=True, max_length=32)
    count: int = Field(default=0)
    weight: float = Field(default=0.0, sa_type=Float())
    why: str = Field(max_length=200)  # template: {count}, {label}
    updated_at: datetime = at_field()
    last_at: datetime = at_field()  # when the latest evidence happened


class TagRemoval(SQLModel, table=True):
    """A tag the member removed: it is not derived again."""

    __tablename__ = "profile_tag_removals"

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    tag: str = Field(primary_key=True, max_length=80)
    removed_at: datetime = at_field()
