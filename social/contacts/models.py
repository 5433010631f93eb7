"""Address-book matches: "owner has contact in their address book", matched users only.

Only edges to users who matched (discoverable cardholders) are stored; the numbers sent
by a client, matched or not, are never stored, nor the names given to them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class ContactEdge(SQLModel, table=True):
    __tablename__ = "contact_edges"
    __table_args__ = (Index("ix_contact_edges_contact_id", "contact_id"),)

    owner_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    contact_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    created_at: datetime = at_field()
