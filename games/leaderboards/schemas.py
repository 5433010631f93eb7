from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from games.leaderboards.service import Board

FromAttributes = ConfigDict(from_attributes=True)  # from the service's dataclass of the same fields


class Entry(BaseModel):
    model_config = FromAttributes

    rank: int
    user_id: str
    display_name: str
    score: float


class Me(BaseModel):
    model_config = FromAttributes

    rank: int | None
    score: float


class BoardPublic(BaseModel):
    model_config = FromAttributes

    board: str
    scope: str
    period: str
    bucket: str
    items: list[Entry]
    me: Me

    @classmethod
    def of(cls, board: Board) -> BoardPublic:
        return cls.model_validate(board)
