"""Segments, the tags each names (the index an incremental re-evaluation looks up), and
their stored members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class AudienceSegment(SQLModel, table=True):
    """An admin's segment: its rule (``app.audiences.rules``) as validated JSON."""

    __tablename__ = "audience_segments"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=64)
    description: str = Field(default="", max_length=200)
    rule: dict[str, Any] = Field(sa_type=JSON())
    created_by: str = Field(max_length=40)
    created_at: datetime = at_field()
    updated_at: datetime = at_field()
    evaluated_at: datetime | None = at_field(nullable=True)  # last full rebuild
    deleted_at: datetime | None = at_field(nullable=True)


class AudienceSegmentTag(SQLModel, table=True):
    """A tag a segment's rule names: the members whose tag changes are re-evaluated
    against the segments found here by the tag, and no others."""

    __tablename__ = "audience_segment_tags"

    tag: str = Field(primary_key=True, max_length=80)
    segment_id: str = Field(primary_key=True, foreign_key="audience_segments.id", max_length=40)


class AudienceMember(SQLModel, table=True):
    """A member of a segment, as last evaluated."""

    __tablename__ = "audience_members"
    __table_args__ = (Index("ix_audience_members_user_id", "user_id"),)

    segment_id: str = Field(primary_key=True, foreign_key="audience_segments.id", max_length=40)
    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    since: datetime = at_field()
