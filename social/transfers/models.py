"""Transfers between friends (their daily limit is the wallet's outgoing limit, ``app.wallet``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field, fen_field

STATUSES = ("pending", "accepted", "declined", "refunded")


class Transfer(SQLModel, table=True):
    """One transfer. Its money sits in ``escrow:transfer:<id>`` while ``pending``; the
    status leaves ``pending`` once, by a conditional update, which decides who pays."""

    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        # The refund sweep scans pending transfers by expiry.
        Index("ix_transfers_status_expires_at", "status", "expires_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    sender_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    receiver_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    amount_fen: int = fen_field()
    note: str = Field(default="", max_length=100)
    conversation_id: str = Field(foreign_key="conversations.id", max_length=40)
    status: str = Field(default="pending", max_length=12)  # see STATUSES
    created_at: datetime = at_field()
    expires_at: datetime = at_field()
    resolved_at: datetime | None = at_field(nullable=True)
