from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from app.auth.schemas import BADGE_DESCRIPTION, Badge, PersonCard
from app.types import INT64_MAX

if TYPE_CHECKING:
    from content.moderation import service as moderation
    from content.moderation.service import Decided, Queued, Terms

Term = Annotated[str, StringConstraints(min_length=1, max_length=50)]
CategoryName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class TermCategory(BaseModel):
    action: Literal["block", "review", "flag"]
    terms: list[Term] = Field(default_factory=list, max_length=50_000)


class TermsIn(BaseModel):
    """The whole term configuration (replaces the current one)."""

    categories: dict[CategoryName, TermCategory] = Field(max_length=50)
    expected_version: Annotated[StrictInt, Field(ge=0, le=INT64_MAX)] | None = (
        None  # optimistic concurrency: 409 if the lists moved on
    )


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
    escalated: bool = False
    author_name: str | None = None
    author: PersonCard | None = Field(
        default=None, description="the author's card (null if their account is gone)"
    )

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
            escalated=i.escalated_at is not None,
            author_name=q.author_name,
            author=q.author,
        )


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

    @classmethod
    def of(cls, d: Decided) -> DecisionPublic:
        i = d.item
        return cls(
            item_id=i.id,
            action=i.decision or ("escalate" if d.target_status == "escalated" else ""),
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
    moderator_name: str | None = None
    action: str
    target_kind: str
    target_id: str
    item_id: str | None
    reason: str
    data: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, logged: moderation.Logged) -> AuditPublic:
        return cls.model_validate(logged.entry).model_copy(update={"moderator_name": logged.moderator_name})


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

    @classmethod
    def all(cls, spans: Any) -> list[MarkedSpan]:
        return [cls(start=x.start, end=x.end, category=x.category, match=x.match) for x in spans]


class ItemMedia(BaseModel):
    id: str
    url: str
    thumb_url: str


class AuthorCard(BaseModel):
    id: str
    display_name: str
    badge: Badge | None = Field(description=BADGE_DESCRIPTION)
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
    report_count: int = 0
    created_at: datetime


class AuthorHistory(BaseModel):
    author: AuthorCard
    items: list[PastItem]  # earlier review items about this author, newest first
    posts: list[AuthorPost]

    @classmethod
    def of(cls, h: moderation.AuthorHistory) -> AuthorHistory:
        return cls(
            author=AuthorCard(
                id=h.author.id,
                display_name=h.author.display_name,
                badge=h.author.badge,
                muted_until=h.muted_until,
            ),
            items=[
                PastItem(
                    id=p.item.id,
                    target_kind=p.item.target_kind,
                    target_id=p.item.target_id,
                    reason=p.item.reason,
                    status=p.item.status,
                    decision=p.item.decision,
                    decision_reason=p.decision_reason,
                    decided_by=p.item.decided_by,
                    decided_at=p.item.decided_at,
                    created_at=p.item.created_at,
                )
                for p in h.items
            ],
            posts=[AuthorPost.model_validate(c) for c in h.content],
        )


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

    @classmethod
    def of(cls, v: moderation.ItemView) -> ItemDetail:  # type: ignore[override]
        i = v.queued.item
        return cls(
            **QueueItem.of(v.queued).model_dump(),
            status=i.status,
            decision=i.decision,
            decided_by=i.decided_by,
            decided_at=i.decided_at,
            escalated_by=i.escalated_by,
            escalated_at=i.escalated_at,
            text=v.text,
            spans=MarkedSpan.all(v.spans),
            media=[
                ItemMedia(id=m, url=f"/v1/media/{m}/original", thumb_url=f"/v1/media/{m}/thumb")
                for m in v.media_ids
            ],
            history=AuthorHistory.of(v.history),
            decisions=[AuditPublic.of(d) for d in v.decisions],
        )


class TermsPreviewIn(BaseModel):
    """Text to try, against the given (unsaved) term lists, or the current ones."""

    text: str = Field(min_length=1, max_length=10_000)
    categories: dict[CategoryName, TermCategory] | None = Field(default=None, max_length=50)


class TermsPreview(BaseModel):
    action: str  # block | review | flag | allow
    hits: dict[str, list[str]]
    spans: list[MarkedSpan]

    @classmethod
    def of(cls, p: moderation.Preview) -> TermsPreview:
        return cls(action=p.action, hits=p.hits, spans=MarkedSpan.all(p.spans))
