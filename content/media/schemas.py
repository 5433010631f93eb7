from __future__ import annotations

from pydantic import BaseModel


class MediaPublic(BaseModel):
    id: str
    url: str
    thumb_url: str
    width: int
    height: int
