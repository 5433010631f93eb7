from __future__ import annotations

from fastapi import APIRouter

from app.deps import CurrentUser, DbSession, Rt
from app.errors import AlreadyClaimed, documented
from games.quiz import service as quiz
from games.quiz.schemas import AnswerIn, AnswerPublic, QuizPublic

router = APIRouter(tags=["farm"])


@router.get("/v1/farm/quiz", response_model=QuizPublic)
async def today(user: CurrentUser, db: DbSession, rt: Rt) -> QuizPublic:
    return QuizPublic.of(await quiz.today(db, rt, user_id=user.id))


@router.post(
    "/v1/farm/quiz/answer",
    response_model=AnswerPublic,
    responses=documented(AlreadyClaimed("today's question is answered")),
)
async def answer(body: AnswerIn, user: CurrentUser, db: DbSession, rt: Rt) -> AnswerPublic:
    return AnswerPublic.model_validate(await quiz.answer(db, rt, user_id=user.id, choice=body.choice))
