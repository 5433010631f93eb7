from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, StrictInt

if TYPE_CHECKING:
    from games.quiz.service import Today


class QuizPublic(BaseModel):
    day: str
    question_id: str
    question: str
    choices: list[str]
    answered: bool
    choice: int | None = None
    correct: bool | None = None
    answer: int | None = None  # shown once answered
    explanation: str | None = None  # shown once answered
    reward_g: int

    @classmethod
    def of(cls, t: Today) -> QuizPublic:
        return cls(
            day=t.day,
            question_id=t.question_id,
            question=t.question,
            choices=t.choices,
            answered=t.mine is not None,
            choice=t.mine.choice if t.mine else None,
            correct=t.mine.correct if t.mine else None,
            answer=t.answer,
            explanation=t.explanation,
            reward_g=t.reward_g,
        )


class AnswerIn(BaseModel):
    choice: StrictInt = Field(ge=0, le=9)


class AnswerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from ``service.Answered``

    correct: bool
    reward_g: int
    answer: int
    explanation: str
