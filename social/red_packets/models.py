"""Red packets and their claims.

The shares are cut when the packet is created (``split.py``) and stored with it; the
n-th successful grab takes ``shares[n]``. A grab is a conditional update of
``remaining_count`` (the row lock serialises grabs of one packet) plus a claim row whose
primary key (packet, user) makes a second claim by the same user impossible.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field, fen_field

STATUSES = ("open", "finished", "refunded")  # finished: every share taken


class RedPacket(SQLModel, table=True):
    __tablename__ = "red_packets"
    __table_args__ = (
        CheckConstraint("remaining_count >= 0", name="remaining_count_not_negative"),
        CheckConstraint("remaining_fen >= 0", name="remaining_fen_not_negative"),
        CheckConstraint("total_fen >= count AND count >= 1", name="share_at_least_one_fen"),
        Index("ix_red_packets_status_expires_at", "status", "expires_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    conversation_id: str = Field(foreign_key="conversations.id", index=True, max_length=40)
    sender_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    mode: str = Field(max_length=12)  # random | equal | exclusive
    to_user_id: str | None = Field(default=None, max_length=40)  # exclusive only
    sender_may_grab: bool = Field(default=False)  # in groups yes, in a direct chat no
    greeting: str = Field(default="", max_length=100)
    total_fen: int = fen_field()
    count: int
    shares: list[int] = Field(sa_type=JSON())  # in grab order; never shown to clients
    remaining_count: int
    remaining_fen: int = fen_field()
    refunded_fen: int = fen_field(default=0)
    status: str = Field(default="open", max_length=12)  # see STATUSES
    created_at: datetime = at_field()
    expires_at: datetime = at_field()
    closed_at: datetime | None = at_field(nullable=True)


class RedPacketClaim(SQLModel, table=True):
    __tablename__ = "red_packet_claims"
    __table_args__ = (UniqueConstraint("packet_id", "idx"),)

    packet_id: str = Field(primary_key=True, foreign_key="red_packets.id", max_length=40)
    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    idx: int  # which share: 0 for the first grab
    amount_fen: int = fen_field()
    at: datetime = at_field()
