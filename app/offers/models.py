"""Offer rules (admins') and the offers issued to members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class OfferRule(SQLModel, table=True):
    """When a member's consented event in ``scenario`` of ``event_type`` has attributes
    equal to ``match`` (values compared as tag values: case and width folded), offer
    ``title`` on ``offer_scenario``."""

    __tablename__ = "offer_rules"
    __table_args__ = (Index("ix_offer_rules_scenario_event_type", "scenario", "event_type"),)

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=64)
    scenario: str = Field(max_length=32)
    event_type: str = Field(max_length=32)
    match: dict[str, Any] = Field(default_factory=dict, sa_type=JSON())
    offer_scenario: str = Field(max_length=32)
    title: str = Field(max_length=80)
    body: str = Field(default="", max_length=300)
    code: str = Field(max_length=32)  # the coupon code the partner honours
    valid_days: int = Field(default=30)
    active: bool = Field(default=True)
    created_by: str = Field(max_length=40)
    created_at: datetime = at_field()


class Offer(SQLModel, table=True):
    """An offer issued to a member: once per rule (the unique constraint)."""

    __tablename__ = "offers"
    __table_args__ = (
        UniqueConstraint("rule_id", "user_id"),
        Index("ix_offers_user_id_issued_at", "user_id", "issued_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    rule_id: str = Field(foreign_key="offer_rules.id", max_length=40)
    user_id: str = Field(foreign_key="users.id", max_length=40)
    event_id: str = Field(max_length=64)  # the event that earned it (kept if the event is forgotten)
    scenario: str = Field(max_length=32)  # where it is used (the rule's offer_scenario)
    title: str = Field(max_length=80)
    body: str = Field(default="", max_length=300)
    code: str = Field(max_length=32)
    issued_at: datetime = at_field()
    expires_at: datetime = at_field()
