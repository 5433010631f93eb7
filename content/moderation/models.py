"""Moderation storage: the editable term lists, the review queue, mutes and the audit log.

``moderation_audit`` is append-only: the service has no update or delete path, and the
migration installs a trigger that refuses UPDATE on both backends.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from app.dbenums import enum_field, one_of
from app.dbtypes import at_field


class ItemStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Decision(StrEnum):
    """A moderator's decision on a queue item."""

    APPROVE = "approve"  # publish
    REJECT = "reject"  # remove (held content)
    REMOVE = "remove"  # remove (published content)


class AuditAction(StrEnum):
    """What the audit log records: a decision, a mute, new term lists."""

    APPROVE = Decision.APPROVE.value
    REJECT = Decision.REJECT.value
    REMOVE = Decision.REMOVE.value
    MUTE = "mute"
    TERMS = "terms"
    ESCALATE = "escalate"  # the item stays open, flagged for a senior reviewer


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
        one_of("status", ItemStatus),
        one_of("decision", Decision),
    )

    id: str = Field(primary_key=True, max_length=40)
    target_kind: str = Field(max_length=12)  # post | comment
    target_id: str = Field(max_length=40)
    author_id: str = Field(max_length=40)
    reason: str = Field(max_length=32)  # filter | reports
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON())
    status: ItemStatus = enum_field(ItemStatus, max_length=8, default=ItemStatus.OPEN)
    decision: Decision | None = enum_field(Decision, default=None, max_length=8, nullable=True)
    decided_by: str | None = Field(default=None, max_length=40)
    decided_at: datetime | None = at_field(nullable=True)
    # Escalated items stay open, flagged for a senior reviewer (an admin or another moderator).
    escalated_by: str | None = Field(default=None, max_length=40)
    escalated_at: datetime | None = at_field(nullable=True)
    created_at: datetime = at_field()


class AuditEntry(SQLModel, table=True):
    __tablename__ = "moderation_audit"
    __table_args__ = (one_of("action", AuditAction),)

    id: str = Field(primary_key=True, max_length=40)  # time-sortable: the cursor
    moderator_id: str = Field(max_length=40)
    action: AuditAction = enum_field(AuditAction, max_length=16)
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
