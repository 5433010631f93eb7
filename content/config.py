"""Content settings: the ``content`` group of the one settings tree (``QUANZI_CONTENT_*``).

Read through ``content_settings(rt)``; tests pass their own with
``rt.settings = rt.settings.model_copy(update={"content": ContentSettings(...)})``.
"""

from __future__ import annotations

from app.config import ContentSettings
from app.runtime import Runtime

__all__ = ["ContentSettings", "content_settings"]


def content_settings(rt: Runtime) -> ContentSettings:
    return rt.settings.content
