"""``quanzi audiences …``: re-evaluate segments over every member."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from app import features
from app.config import get_settings
from app.runtime import build_runtime

NAME = "audiences"
cli = typer.Typer(help="Audiences (segments over tags, tiers and attributes).", no_args_is_help=True)
console = Console()


@cli.command("rebuild")
def rebuild(segment: str = typer.Option(None, help="one segment id; default: every segment")) -> None:
    """Re-evaluate every member of each segment (after a rule change, or to catch up time)."""
    from app.audiences import service as audiences

    async def _rebuild() -> dict[str, tuple[int, int]]:
        features.import_models()
        rt = build_runtime(get_settings())
        try:
            return await audiences.rebuild(rt, segment_id=segment)
        finally:
            await rt.close()

    for sid, (added, removed) in asyncio.run(_rebuild()).items():
        console.print(f"{sid}: +{added} −{removed}")
