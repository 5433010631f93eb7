from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class ProductCard(BaseModel):
    """A bank product the post links to: a one-tap path from content to product."""

    product_id: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=100)
    link: str = Field(min_length=1, max_length=512)


class PostCreate(BaseModel):
    kind: Literal["post", "question", "article"]
    title: str | None = Field(default=None, min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=5000)
    media_ids: list[str] = Field(default_factory=list, max_length=9)
    product: ProductCard | None = None


class PostUpdate(BaseModel):
    """Fields left out stay as they are."""

    title: str | None = Field(default=None, min_length=1, max_length=100)
    text: str | None = Field(default=None, min_length=1, max_length=5000)
    media_ids: list[str] | None = Field(default=None, max_length=9)
    product: ProductCard | None = None


class AuthorPublic(BaseModel):
    id: str
    display_name: str
    avatar_url: str | None = None


class MediaRef(BaseModel):
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
    product: ProductCard | None
    status: Literal["published", "pending_review", "removed"]
    author: AuthorPublic
    like_count: int
    comment_count: int
    liked_by_me: bool
    accepted_comment_id: str | None
    flags: list[str] | None = None  # moderation flags: shown to the author and moderators only
    created_at: datetime
    edited_at: datetime | None
    editable_until: datetime | None = None  # for the author


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


class LikePublic(BaseModel):
    post_id: str
    liked: bool
    like_count: int


class FollowPublic(BaseModel):
    user_id: str
    following: bool
    follower_count: int
    following_count: int


class ReportIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class ReportPublic(BaseModel):
    post_id: str
    reported: bool = True
