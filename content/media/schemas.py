from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class MediaPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from ``service.Image``

    id: str
    url: str
    thumb_url: str
    width: int
    height: int
