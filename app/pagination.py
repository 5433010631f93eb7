"""Cursor pagination: ``?limit=`` (1–100, default 20) and an opaque ``?cursor=``."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from app.errors import ValidationFailed

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


def encode_cursor(value: Any) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    """The value behind a cursor, or None for the first page. Raises ValidationFailed."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("invalid cursor", field="cursor") from exc
