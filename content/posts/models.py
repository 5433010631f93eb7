"""Posts, comments (answers on a question), likes, follows and reports.

Counters on ``posts`` (likes, comments, reports) move only together with the row whose
insert or delete they count, in one statement each (``x = x + 1``), so they stay exact
under concurrency; the unique keys of ``post_likes``/``follows``/``post_reports`` make
likes, follows and reports idempotent.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, Index, Text, text
from sqlmodel import Field, SQLModel

from app.dbenums import enum_field, one_of
from app.dbtypes import at_field


class PostKind(StrEnum):
    POST = "post"
    QUESTION = "question"  # its top-level comments are answers
    ARTICLE = "article"  # needs a title


class Source(StrEnum):
    UGC = "ugc"  # users
    PGC = "pgc"  # advisors and editors, with a badge


class Status(StrEnum):
    """A post's or a comment's status (only a post is ever ``deleted``)."""

    PUBLISHED = "published"
    PENDING_REVIEW = "pending_review"
    REMOVED = "removed"  # by a moderator
    DELETED = "deleted"  # by its author: found by no one


class Post(SQLModel, table=True):
    __tablename__ = "posts"
    __table_args__ = (
        Index("ix_posts_status_id", "status", "id"),
        Index("ix_posts_status_hot", "status", "hot_score", "id"),
        Index("ix_posts_author_status_id", "author_id", "status", "id"),
        # posts with a product card, newest first: the "for you" tab's product candidates
        Index("ix_posts_with_product_id", "id", postgresql_where=text("product IS NOT NULL")),
        CheckConstraint("like_count >= 0", name="like_count_not_negative"),
        CheckConstraint("comment_count >= 0", name="comment_count_not_negative"),
        one_of("kind", PostKind),
        one_of("source", Source),
        one_of("status", Status),
    )

    id: str = Field(primary_key=True, max_length=40)  # time-sortable: the cursor of latest/following
    author_id: str = Field(foreign_key="users.id", max_length=40)
    kind: PostKind = enum_field(PostKind, max_length=12)
    source: Source = enum_field(Source, max_length=4)
    badge: str | None = Field(default=None, max_length=32)
    title: str | None = Field(default=None, max_length=100)
    text: str = Field(sa_type=Text())
    media: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON())
    product: dict[str, Any] | None = Field(default=None, sa_type=JSON())
    status: Status = enum_field(Status, max_length=16)
    flags: list[str] = Field(default_factory=list, sa_type=JSON())
    like_count: int = 0
    comment_count: int = 0
    report_count: int = 0
    hot_score: float = Field(default=0.0, sa_type=Float())
    accepted_comment_id: str | None = Field(default=None, max_length=40)
    accepted_at: datetime | None = at_field(nullable=True)
    created_at: datetime = at_field()
    edited_at: datetime | None = at_field(nullable=True)


class Comment(SQLModel, table=True):
    __tablename__ = "post_comments"
    __table_args__ = (Index("ix_post_comments_post_id_id", "post_id", "id"), one_of("status", Status))

    id: str = Field(primary_key=True, max_length=40)
    post_id: str = Field(foreign_key="posts.id", max_length=40)
    author_id: str = Field(foreign_key="users.id", max_length=40)
    reply_to: str | None = Field(default=None, max_length=40)
    text: str = Field(sa_type=Text())
    status: Status = enum_field(Status, max_length=16)  # never deleted
    flags: list[str] = Field(default_factory=list, sa_type=JSON())
    created_at: datetime = at_field()


class PostLike(SQLModel, table=True):
    __tablename__ = "post_likes"
    __table_args__ = (Index("ix_post_likes_user_id", "user_id"),)

    post_id: str = Field(primary_key=True, foreign_key="posts.id", max_length=40)
    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    author_id: str = Field(max_length=40)  # the post's author: whose creator score it counts for
    created_at: datetime = at_field()


class Follow(SQLModel, table=True):
    __tablename__ = "follows"
    __table_args__ = (
        CheckConstraint("follower_id <> followee_id", name="not_self"),
        Index("ix_follows_followee_id", "followee_id"),
    )

    follower_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    followee_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    created_at: datetime = at_field()


class PostReport(SQLModel, table=True):
    __tablename__ = "post_reports"

    post_id: str = Field(primary_key=True, foreign_key="posts.id", max_length=40)
    reporter_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    reason: str = Field(max_length=500)
    created_at: datetime = at_field()
