from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Kind = Literal["chat", "money", "games", "social"]
Clock = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: Literal["apns", "fcm", "hms"] = Field(description="apns (iOS), fcm (Android), hms (Huawei)")
    token: Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^[\x21-\x7e]+$")]


class DevicePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    platform: str
    token: str
    created_at: datetime


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: Clock = Field(description='"HH:MM" in the bank\'s time zone, e.g. "22:00"')
    end: Clock = Field(description='"HH:MM", e.g. "07:00" (the next morning when before start)')


class PushSettingsIO(BaseModel):
    """What not to push: muted kinds, and quiet hours (nothing is pushed then)."""

    model_config = ConfigDict(extra="forbid")

    muted: list[Kind] = Field(default_factory=list, max_length=4)
    quiet_hours: QuietHours | None = None


class LoggedPush(BaseModel):
    user_id: str
    platform: str
    token: str
    kind: str
    title: str
    body: str
    data: dict[str, Any]


class LoggedPushes(BaseModel):
    items: list[LoggedPush]
