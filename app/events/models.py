"""Bank events as received: spending events, idempotent by ``event_id``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class SpendingEvent(SQLModel, table=True):
    """One bank spending event; the primary key makes a replayed event_id a no-op."""

    __tablename__ = "spending_events"
    __table_args__ = (Index("ix_spending_events_user_id_occurred_at", "user_id", "occurred_at"),)

    event_id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", max_length=40)
    category: str = Field(max_length=32)
    amount_fen: int = Field(sa_type=BigInteger())
    occurred_at: datetime = at_field()
    received_at: datetime = at_field()
    energy_g: int = Field(default=0)  # 0: no energy (small amount, over the cap, category earns none)
