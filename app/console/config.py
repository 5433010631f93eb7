"""Console settings: the ``console`` group of the one settings tree (``QUANZI_CONSOLE_*``).

Read through ``console_settings(rt)``; tests pass their own with
``rt.settings = rt.settings.model_copy(update={"console": ConsoleSettings(...)})``.
"""

from __future__ import annotations

from app.config import ConsoleSettings
from app.runtime import Runtime

__all__ = ["ConsoleSettings", "console_settings"]


def console_settings(rt: Runtime) -> ConsoleSettings:
    return rt.settings.console
