"""Advisors' capacity and fit, and which advisor serves which client."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class AdvisorProfile(SQLModel, table=True):
    """Optional per-advisor settings; an advisor without a row gets the defaults."""

    __tablename__ = "advisor_profiles"

    advisor_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    capacity: int = Field(default=200)
    regions: str = Field(default="", max_length=256)  # comma-separated; empty: the user's region
    languages: str = Field(default="", max_length=64)  # comma-separated; empty: the user's language
    risk_profiles: str = Field(default="", max_length=64)  # comma-separated; empty: any


class AdvisorAssignment(SQLModel, table=True):
    """One advisor per client (primary key)."""

    __tablename__ = "advisor_assignments"
    __table_args__ = (Index("ix_advisor_assignments_advisor_id", "advisor_id"),)

    client_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    advisor_id: str = Field(foreign_key="users.id", max_length=40)
    fit: int = Field(default=0)
    assigned_at: datetime = at_field()


class AdvisorNote(SQLModel, table=True):
    """A note an advisor keeps on a client: read by the client's advisors only, never by the client."""

    __tablename__ = "advisor_notes"
    __table_args__ = (Index("ix_advisor_notes_client_id_id", "client_id", "id"),)

    id: str = Field(primary_key=True, max_length=40)  # time-sortable: the cursor
    client_id: str = Field(foreign_key="users.id", max_length=40)
    advisor_id: str = Field(foreign_key="users.id", max_length=40)
    text: str = Field(max_length=2000)
    created_at: datetime = at_field()
