"""The notification push on the WebSocket (``service.notify`` publishes it after commit)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from app.notifications.schemas import NotificationPublic


class NotifyFrame(BaseModel):
    """A new message-center item (API.md: Notifications)."""

    op: Literal["notify"]
    notification: NotificationPublic


SERVER_FRAMES = [NotifyFrame]
