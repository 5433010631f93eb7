from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.auth.schemas import BADGE_DESCRIPTION, Badge, PersonCard

if TYPE_CHECKING:
    from games.leaderboards.service import Board

# Every board counts whole things (grams, steps, points): Redis keeps sorted-set scores as
# doubles, the API serves integers.
Score = Annotated[int, BeforeValidator(lambda v: round(v) if isinstance(v, float) else v)]

FromAttributes = ConfigDict(from_attributes=True)  # from the service's dataclass of the same fields


class Entry(BaseModel):
    model_config = FromAttributes

    rank: int
    user_id: str | None = Field(description="null when the row is anonymous")
    display_name: str | None = Field(description="null when the row is anonymous")
    badge: Badge | None = Field(description=BADGE_DESCRIPTION)
    score: Score
    anonymous: bool = Field(
        description="a user who is not discoverable, shown to someone who is not their friend: "
        "rank and score only"
    )
    user: PersonCard | None = Field(
        default=None, description="the person's card (name, avatar, badge); null when the row is anonymous"
    )


class Me(BaseModel):
    model_config = FromAttributes

    rank: int | None
    score: Score


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
