"""The schedule of the periodic jobs, shared by every worker of a deployment."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class JobSchedule(SQLModel, table=True):
    """One row per job: when it is next due (business time) and how its runs went.

    A worker runs a job only after moving ``next_run_at`` past now in one conditional
    update, so one worker of the deployment runs each due slot."""

    __tablename__ = "job_schedule"

    name: str = Field(primary_key=True, max_length=64)
    next_run_at: datetime = at_field()
    last_started_at: datetime | None = at_field(nullable=True)
    last_finished_at: datetime | None = at_field(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)
    runs: int = Field(default=0)
    failures: int = Field(default=0)
