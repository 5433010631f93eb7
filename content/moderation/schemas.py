from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictInt, StringConstraints

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


class QueueItem(BaseModel):
    id: str
    target_kind: str
    target_id: str
    author_id: str
    reason: str
    details: dict[str, Any]
    created_at: datetime
    target: dict[str, Any]  # a snapshot of what to judge: title, text, status
    escalated: bool = False
    author_name: str | None = None


class DecisionIn(BaseModel):
    # escalate: keep the item open, flagged for a senior reviewer
    action: Literal["approve", "reject", "remove", "escalate"]
    reason: str = Field(min_length=1, max_length=500)


class DecisionPublic(BaseModel):
    item_id: str
    action: str
    target_kind: str
    target_id: str
    target_status: str


class MuteIn(BaseModel):
    hours: StrictInt = Field(ge=1, le=24 * 365)
    reason: str = Field(min_length=1, max_length=500)


class MutePublic(BaseModel):
    user_id: str
    muted_until: datetime


class AuditPublic(BaseModel):
    id: str
    moderator_id: str
    moderator_name: str | None = None
    action: str
    target_kind: str
    target_id: str
    item_id: str | None
    reason: str
    data: dict[str, Any]
    created_at: datetime


QUEUE_STATES = ("open", "pending", "escalated", "approved", "rejected", "removed")


class QueueCounts(BaseModel):
    """Items per state: ``pending`` and ``escalated`` are open; the rest were decided."""

    pending: int = 0
    escalated: int = 0
    approved: int = 0
    rejected: int = 0
    removed: int = 0


class MarkedSpan(BaseModel):
    start: int
    end: int
    category: str
    match: str


class ItemMedia(BaseModel):
    id: str
    url: str
    thumb_url: str


class AuthorCard(BaseModel):
    id: str
    display_name: str
    muted_until: datetime | None


class PastItem(BaseModel):
    id: str
    target_kind: str
    target_id: str
    reason: str
    status: str
    decision: str | None
    decision_reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime


class AuthorPost(BaseModel):
    id: str
    title: str | None
    excerpt: str
    status: str
    report_count: int
    created_at: datetime


class AuthorHistory(BaseModel):
    author: AuthorCard
    items: list[PastItem]  # earlier review items about this author, newest first
    posts: list[AuthorPost]


class ItemDetail(QueueItem):
    status: str
    decision: str | None
    decided_by: str | None
    decided_at: datetime | None
    escalated_by: str | None
    escalated_at: datetime | None
    text: str  # the title and text that were screened
    spans: list[MarkedSpan]  # where the current term lists match in ``text``
    media: list[ItemMedia]
    history: AuthorHistory
    decisions: list[AuditPublic]  # earlier decisions on the same content


class TermsPreviewIn(BaseModel):
    """Text to try, against the given (unsaved) term lists, or the current ones."""

    text: str = Field(min_length=1, max_length=10_000)
    categories: dict[CategoryName, TermCategory] | None = Field(default=None, max_length=50)


class TermsPreview(BaseModel):
    action: str  # block | review | flag | allow
    hits: dict[str, list[str]]
    spans: list[MarkedSpan]
