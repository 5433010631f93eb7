"""Audiences over HTTP (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.audiences.rules import Rule

Name = Annotated[str, Field(min_length=1, max_length=64)]
Description = Annotated[str, Field(max_length=200)]


class AudienceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = ""
    rule: Rule


class AudienceUpdate(BaseModel):
    """What to change; a new rule re-evaluates every member (one query)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    rule: Rule | None = None


class AudiencePreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: Rule


class AudiencePreview(BaseModel):
    size: int = Field(description="members matching the rule now (erased accounts never)")
    tags: list[str] = Field(description="the tags the rule names")
    as_of: datetime


class AudiencePublic(BaseModel):
    id: str
    name: str
    description: str
    rule: dict[str, Any]
    tags: list[str]
    members: int = Field(description="stored members now")
    created_at: datetime
    updated_at: datetime
    evaluated_at: datetime | None = Field(description="the last full evaluation")
