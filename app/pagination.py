"""Cursor pagination: ``?limit=`` (1–100, default 20) and an opaque ``?cursor=``.

A cursor is base64 of a small JSON value. A service decodes it against the shape it
encoded (``decode_cursor(cursor, ID_CURSOR)``): anything else a client sends — another
shape, a naive time, an integer beyond ``bigint``, a NUL in an id — is refused with 422
``validation_error`` here, before it reaches a query.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    TypeAdapter,
    ValidationError,
)

from app.errors import ValidationFailed
from app.types import INT64_MAX, SeqNumber

Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=512)]


T = TypeVar("T")
U = TypeVar("U")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class Chunk(Generic[T]):
    """A page of domain objects, as a service returns it; the router shapes it as a ``Page``."""

    items: list[T]
    next_cursor: str | None = None

    def page(self, shape: Callable[[T], U]) -> Page[U]:
        return Page(items=[shape(item) for item in self.items], next_cursor=self.next_cursor)


# -- the shapes a cursor may have ----------------------------------------------------------

# An id as a cursor carries it: ids are short opaque strings without NUL.
CursorId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00]*$")]


def _plausible(at: datetime) -> datetime:
    if not 1970 <= at.year <= 9998:  # beyond it, conversions to UTC overflow
        raise ValueError("time out of range")
    return at


CursorTime = Annotated[AwareDatetime, AfterValidator(_plausible)]
CursorInt = Annotated[StrictInt, Field(ge=-INT64_MAX - 1, le=INT64_MAX)]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SeqPosition(_Shape):
    """Messages after or before a seq."""

    after_seq: SeqNumber | None = None
    before_seq: SeqNumber | None = None


class OffsetPosition(_Shape):
    """A position in a list sorted by something other than its key."""

    o: Annotated[StrictInt, Field(ge=0, le=100_000)] = 0


class FeedPosition(_Shape):
    """The last post of a feed page; for the hot tab, its score and the page's as-of time."""

    i: CursorId
    s: StrictFloat | None = None
    t: CursorTime | None = None


class ForYouPosition(_Shape):
    """A place in the "for you" ranking: how many posts were served, and its as-of time."""

    o: Annotated[StrictInt, Field(ge=0, le=100_000)]
    t: CursorTime


ID_CURSOR: TypeAdapter[str] = TypeAdapter(CursorId)
INT_CURSOR: TypeAdapter[int] = TypeAdapter(CursorInt)
TIME_ID_CURSOR: TypeAdapter[tuple[datetime, str]] = TypeAdapter(tuple[CursorTime, CursorId])
SEQ_CURSOR: TypeAdapter[SeqPosition] = TypeAdapter(SeqPosition)
OFFSET_CURSOR: TypeAdapter[OffsetPosition] = TypeAdapter(OffsetPosition)
FEED_CURSOR: TypeAdapter[FeedPosition] = TypeAdapter(FeedPosition)
FOR_YOU_CURSOR: TypeAdapter[ForYouPosition] = TypeAdapter(ForYouPosition)


def encode_cursor(value: Any) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", exclude_none=True)
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, shape: TypeAdapter[T]) -> T | None:
    """The value behind a cursor, checked against ``shape``, or None for the first page.
    Raises ValidationFailed."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode())
        return shape.validate_json(raw, strict=True)
    except (ValueError, TypeError, binascii.Error, ValidationError) as exc:
        raise ValidationFailed("invalid cursor", field="cursor") from exc
