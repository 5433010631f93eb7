from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class StaffActionPublic(BaseModel):
    id: str
    staff_id: str | None
    staff_name: str | None = None
    action: str
    target_kind: str | None
    target_id: str | None
    outcome: str
    data: dict[str, Any]
    ip: str
    user_agent: str
    created_at: datetime
