from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from app.auth.cards import REF_PATTERN
from app.types import PositiveFen


class WalletPublic(BaseModel):
    balance_fen: int
    currency: str = "CNY"


class StatementLine(BaseModel):
    id: str
    transaction_id: str
    kind: str
    memo: str
    amount_fen: int
    balance_after_fen: int | None
    created_at: datetime


class TopupIn(BaseModel):
    amount_fen: PositiveFen


class TopupPublic(BaseModel):
    transaction_id: str
    amount_fen: int
    balance_fen: int


# The bank's references (cards, top-ups): printable ASCII without spaces.
BankRef = Annotated[str, Field(pattern=REF_PATTERN)]


class BankTopupIn(BaseModel):
    bank_ref: BankRef = Field(description="the bank's reference of this top-up: a retry with it is a no-op")
    user_id: str = Field(min_length=1, max_length=40)
    amount_fen: PositiveFen


class BankTopupPublic(BaseModel):
    bank_ref: str
    user_id: str
    amount_fen: int
    transaction_id: str
    created_at: datetime
