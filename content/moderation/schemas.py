from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

if TYPE_CHECKING:
    from content.moderation.service import Decided, Queued, Terms

Term = Annotated[str, StringConstraints(min_length=1, max_length=50)]
CategoryName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class TermCategory(BaseModel):
    action: Literal["block", "review", "flag"]
    terms: list[Term] = Field(default_factory=list, max_length=50_000)


class TermsIn(BaseModel):
    """The whole term configuration (replaces the current one)."""

    categories: dict[CategoryName, TermCategory] = Field(max_length=50)
    expected_version: StrictInt | None = None  # optimistic concurrency: 409 if the lists moved on


class TermsPublic(BaseModel):
    version: int
    categories: dict[str, TermCategory]
    updated_by: str | None
    updated_at: datetime | None

    @classmethod
    def of(cls, t: Terms) -> TermsPublic:
        return cls(
            version=t.version,
            categories={k: TermCategory.model_validate(v) for k, v in t.config.items()},
            updated_by=t.updated_by,
            updated_at=t.updated_at,
        )


class QueueItem(BaseModel):
    id: str
    target_kind: str
    target_id: str
    author_id: str
    reason: str
    details: dict[str, Any]
    created_at: datetime
    target: dict[str, Any]  # a snapshot of what to judge: title, text, status

    @classmethod
    def of(cls, q: Queued) -> QueueItem:
        i = q.item
        return cls(
            id=i.id,
            target_kind=i.target_kind,
            target_id=i.target_id,
            author_id=i.author_id,
            reason=i.reason,
            details=i.details,
            created_at=i.created_at,
            target=q.target,
        )


class DecisionIn(BaseModel):
    action: Literal["approve", "reject", "remove"]
    reason: str = Field(min_length=1, max_length=500)


class DecisionPublic(BaseModel):
    item_id: str
    action: str
    target_kind: str
    target_id: str
    target_status: str

    @classmethod
    def of(cls, d: Decided) -> DecisionPublic:
        i = d.item
        return cls(
            item_id=i.id,
            action=i.decision or "",
            target_kind=i.target_kind,
            target_id=i.target_id,
            target_status=d.target_status,
        )


class MuteIn(BaseModel):
    hours: StrictInt = Field(ge=1, le=24 * 365)
    reason: str = Field(min_length=1, max_length=500)


class MutePublic(BaseModel):
    user_id: str
    muted_until: datetime


class AuditPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from an ``AuditEntry`` row

    id: str
    moderator_id: str
    action: str
    target_kind: str
    target_id: str
    item_id: str | None
    reason: str
    data: dict[str, Any]
    created_at: datetime
