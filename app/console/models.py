"""The staff audit log: every action a staff member takes in the consoles.

Append-only, like ``moderation_audit``: the service has no path that changes or deletes
an entry, and the migration installs a trigger that refuses UPDATE and DELETE.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class StaffAction(SQLModel, table=True):
    __tablename__ = "staff_actions"
    __table_args__ = (
        Index("ix_staff_actions_staff_id_id", "staff_id", "id"),
        Index("ix_staff_actions_action_id", "action", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)  # time-sortable: the cursor
    staff_id: str | None = Field(default=None, max_length=40)  # None: a sign-in by an unknown number
    action: str = Field(max_length=48)  # sign_in, sign_out, moderation.decide, advisors.add_note, …
    target_kind: str | None = Field(default=None, max_length=24)
    target_id: str | None = Field(default=None, max_length=64)
    outcome: str = Field(max_length=32)  # ok, or the error code that refused it
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON())
    ip: str = Field(max_length=64)
    user_agent: str = Field(max_length=256)
    session_id: str | None = Field(default=None, max_length=16)  # the session's hash, shortened
    created_at: datetime = at_field()
