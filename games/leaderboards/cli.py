"""``quanzi leaderboards …``: the boards are Redis sorted sets, rebuilt from the database."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from app import features
from app.config import get_settings
from app.runtime import build_runtime

NAME = "leaderboards"
cli = typer.Typer(help="Leaderboards (Redis sorted sets, rebuilt from the database).", no_args_is_help=True)
console = Console()


@cli.command("rebuild")
def rebuild() -> None:
    """Recompute every board's current day, week and all-time scores from the database."""
    from games.leaderboards import boards

    async def _rebuild() -> dict[str, int]:
        features.import_models()  # boards register when their feature's hooks load
        rt = build_runtime(get_settings())
        try:
            return await boards.rebuild_all(rt)
        finally:
            await rt.close()

    for name, count in asyncio.run(_rebuild()).items():
        console.print(f"{name}: {count} users")
