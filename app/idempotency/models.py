"""Stored outcomes of money-moving requests, one per (user, Idempotency-Key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_keys"

    # The primary key is the unique constraint that makes concurrent duplicates one effect.
    user_id: str = Field(primary_key=True, max_length=40)
    key: str = Field(primary_key=True, max_length=128)
    fingerprint: str = Field(max_length=64)  # sha256 of method, path and canonical body
    status_code: int
    response_json: str = Field(sa_type=Text())
    created_at: datetime = at_field(index=True)
