from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

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
