from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.auth.schemas import BADGE_DESCRIPTION, Badge
from content.products.schemas import ProductCard, ProductRef

if TYPE_CHECKING:
    from app.auth.service import Caller
    from content.posts.service import CommentView, PostView


class FeedReason(BaseModel):
    """Why the "for you" tab shows a post (null in the other tabs)."""

    code: Literal["topic", "followed", "product", "hot"]
    tag: str | None = Field(default=None, description="the member's tag it matched (code topic)")
    text: str = Field(description='e.g. "because you follow funds"')
    text_zh: str = Field(description='e.g. "因为你关注基金"')


class PostCreate(BaseModel):
    kind: Literal["post", "question", "article"]
    title: str | None = Field(default=None, min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=5000)
    media_ids: list[str] = Field(default_factory=list, max_length=9)
    product: ProductRef | None = Field(
        default=None, description="a product of the catalogue, by id; the card is rendered from it"
    )


class PostUpdate(BaseModel):
    """Fields left out stay as they are."""

    title: str | None = Field(default=None, min_length=1, max_length=100)
    text: str | None = Field(default=None, min_length=1, max_length=5000)
    media_ids: list[str] | None = Field(default=None, max_length=9)
    product: ProductRef | None = None


class AuthorPublic(BaseModel):
    id: str
    display_name: str
    avatar_url: str | None = None
    badge: Badge | None = Field(default=None, description=BADGE_DESCRIPTION)

    @classmethod
    def of(cls, author: Caller | None, author_id: str) -> AuthorPublic:
        if author is None:
            return cls(id=author_id, display_name="")
        return cls(
            id=author.id, display_name=author.display_name, avatar_url=author.avatar_url, badge=author.badge
        )


class MediaRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from ``content.media.service.Image``

    id: str
    url: str
    thumb_url: str
    width: int
    height: int


class PostPublic(BaseModel):
    id: str
    kind: str
    source: Literal["ugc", "pgc"]
    badge: str | None
    title: str | None
    text: str
    media: list[MediaRef]
    product: ProductCard | None = Field(
        description="the product card, rendered from the catalogue for this reader: a placeholder "
        "(available false) when the product is above their risk profile or withdrawn"
    )
    status: Literal["published", "pending_review", "removed"]
    author: AuthorPublic
    like_count: int
    comment_count: int
    liked_by_me: bool
    accepted_comment_id: str | None
    flags: list[str] = Field(
        default_factory=list,
        description="moderation flags: filled for the author and moderators only, [] for everyone else",
    )
    created_at: datetime
    edited_at: datetime | None
    editable_until: datetime | None = None  # for the author
    reason: FeedReason | None = Field(default=None, description='why "for you" shows it; null elsewhere')

    @classmethod
    def of(cls, view: PostView) -> PostPublic:
        p = view.post
        return cls(
            id=p.id,
            kind=p.kind,
            source=p.source,
            badge=p.badge,
            title=p.title,
            text=p.text,
            media=[MediaRef.model_validate(image) for image in view.images],
            product=view.product,
            status=p.status,  # type: ignore[arg-type]  # never "deleted": those are not found
            author=AuthorPublic.of(view.author, p.author_id),
            like_count=p.like_count,
            comment_count=p.comment_count,
            liked_by_me=view.liked_by_me,
            accepted_comment_id=p.accepted_comment_id,
            flags=view.flags,
            created_at=p.created_at,
            edited_at=p.edited_at,
            editable_until=view.editable_until,
            reason=view.reason,
        )


class CommentCreate(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
    reply_to: str | None = Field(default=None, max_length=40)


class CommentPublic(BaseModel):
    id: str
    post_id: str
    author: AuthorPublic
    text: str
    reply_to: str | None
    is_answer: bool
    accepted: bool
    status: Literal["published", "pending_review", "removed"]
    created_at: datetime

    @classmethod
    def of(cls, view: CommentView) -> CommentPublic:
        c = view.comment
        return cls(
            id=c.id,
            post_id=c.post_id,
            author=AuthorPublic.of(view.author, c.author_id),
            text=c.text,
            reply_to=c.reply_to,
            is_answer=view.is_answer,
            accepted=view.accepted,
            status=c.status,  # type: ignore[arg-type]
            created_at=c.created_at,
        )


class LikePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from ``service.Liked``

    post_id: str
    liked: bool
    like_count: int


class FollowPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from ``service.Followed``

    user_id: str
    following: bool
    follower_count: int
    following_count: int


class ReportIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class ReportPublic(BaseModel):
    post_id: str
    reported: bool = True
