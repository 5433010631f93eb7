"""Console settings (``QUANZI_CONSOLE_*``), kept apart from the core settings.

Read once per runtime through ``console_settings(rt)``; tests replace them with
``rt.extras["console.settings"] = ConsoleSettings(...)``.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.runtime import Runtime


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUANZI_CONSOLE_", extra="ignore")

    # A session ends after this long without a request, and at the latest this long after sign-in.
    session_idle_s: int = Field(default=30 * 60, gt=0)
    session_max_s: int = Field(default=12 * 3600, gt=0)
    page_size: int = Field(default=20, ge=1, le=100)


def console_settings(rt: Runtime) -> ConsoleSettings:
    found = rt.extras.get("console.settings")
    if found is None:
        found = rt.extras["console.settings"] = ConsoleSettings()
    return found  # type: ignore[no-any-return]
