"""Run the Alembic migrations programmatically (``quanzi migrate``, the demo, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from app.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(settings: Settings) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["settings"] = settings
    return cfg


def upgrade(settings: Settings) -> None:
    """Bring the schema to the newest revision (there is one head; a test keeps it so)."""
    command.upgrade(alembic_config(settings), "head")
