"""Push devices and each user's push settings."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from app.dbenums import enum_field, one_of
from app.dbtypes import at_field


class Platform(StrEnum):
    APNS = "apns"  # iOS
    FCM = "fcm"  # Android (Google)
    HMS = "hms"  # Android (Huawei)


class Device(SQLModel, table=True):
    """A phone that receives pushes: one row per provider token (a token moves to whoever
    registers it last)."""

    __tablename__ = "push_devices"
    __table_args__ = (one_of("platform", Platform),)

    token: str = Field(primary_key=True, max_length=512)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    platform: Platform = enum_field(Platform, max_length=8)
    created_at: datetime = at_field()


class PushSettings(SQLModel, table=True):
    """What a user does not want pushed: muted kinds and quiet hours (bank's time zone)."""

    __tablename__ = "push_settings"

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    muted: list[str] = Field(default_factory=list, sa_type=JSON())
    quiet_start: str | None = Field(default=None, max_length=5)  # "HH:MM", local
    quiet_end: str | None = Field(default=None, max_length=5)
