"""Moderation storage: the editable term lists, the review queue, mutes and the audit log.

``moderation_audit`` is append-only: the service has no update or delete path, and the
migration installs a trigger that refuses UPDATE on both backends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class FilterConfig(SQLModel, table=True):
    """One row (id 1): the term lists by category; ``version`` bumps on every change."""

    __tablename__ = "moderation_filter"

    id: int = Field(primary_key=True)
    version: int
    config: dict[str, Any] = Field(sa_type=JSON())
    updated_by: str | None = Field(default=None, max_length=40)
    updated_at: datetime = at_field()


class ModerationItem(SQLModel, table=True):
    __tablename__ = "moderation_items"
    __table_args__ = (
        Index("ix_moderation_items_status_created_at", "status", "created_at"),
        Index("ix_moderation_items_target", "target_kind", "target_id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    target_kind: str = Field(max_length=12)  # post | comment
    target_id: str = Field(max_length=40)
    author_id: str = Field(max_length=40)
    reason: str = Field(max_length=32)  # filter | reports
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON())
    status: str = Field(default="open", max_length=8)  # open | closed
    decision: str | None = Field(default=None, max_length=8)
    decided_by: str | None = Field(default=None, max_length=40)
    decided_at: datetime | None = at_field(nullable=True)
    # Escalated items stay open, flagged for a senior reviewer (an admin or another moderator).
    escalated_by: str | None = Field(default=None, max_length=40)
    escalated_at: datetime | None = at_field(nullable=True)
    created_at: datetime = at_field()


class AuditEntry(SQLModel, table=True):
    __tablename__ = "moderation_audit"

    id: str = Field(primary_key=True, max_length=40)  # time-sortable: the cursor
    moderator_id: str = Field(max_length=40)
    action: str = Field(max_length=16)  # approve | reject | remove | escalate | mute | terms
    target_kind: str = Field(max_length=12)  # post | comment | user | terms
    target_id: str = Field(max_length=40)
    item_id: str | None = Field(default=None, max_length=40)
    reason: str = Field(max_length=500)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON())
    created_at: datetime = at_field()


class Mute(SQLModel, table=True):
    __tablename__ = "content_mutes"

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    until_at: datetime = at_field(index=True)
    reason: str = Field(max_length=500)
    muted_by: str = Field(max_length=40)
    created_at: datetime = at_field()
