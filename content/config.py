"""Content settings (``QUANZI_CONTENT_*``), kept apart from the core settings.

Read once per runtime through ``content_settings(rt)``; tests replace them with
``rt.extras["content.settings"] = ContentSettings(...)``.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.runtime import Runtime


class ContentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUANZI_CONTENT_", extra="ignore")

    # posts (text ≤ 5000 characters and ≤ 9 images are the API contract, in the schemas)
    edit_window_s: int = Field(default=15 * 60, ge=0)
    report_threshold: int = Field(default=3, ge=1)
    # feed: hot = points · 2^(−age / half-life); PGC points multiplied by the boost
    hot_half_life_h: float = Field(default=12.0, gt=0)
    pgc_boost: float = Field(default=1.5, gt=0)
    # links to these domains (and their subdomains) are not "outside contact"
    allowed_domains: tuple[str, ...] = ("bank.example", "quanzi.example")
    # media
    media_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    media_max_pixels: int = Field(default=25_000_000, gt=0)
    media_original_px: int = Field(default=2048, gt=0)
    media_thumb_px: int = Field(default=320, gt=0)
    # creator leaderboard points
    points_per_like: float = 1.0
    points_per_accepted_answer: float = 10.0


def content_settings(rt: Runtime) -> ContentSettings:
    found = rt.extras.get("content.settings")
    if found is None:
        found = rt.extras["content.settings"] = ContentSettings()
    return found  # type: ignore[no-any-return]
