"""Serve the ``eggs`` leaderboard (eggs laid), rebuilt from the farm's egg log."""

from typing import Any

from pydantic_core import to_jsonable_python

from app.hooks import register_personal_data
from app.runtime import Runtime
from games.farm import service as farm
from games.leaderboards import boards
from games.leaderboards.registry import Scores, register_board


async def rebuild_eggs(rt: Runtime) -> Scores:
    return await boards.totals_by_period(rt, farm.eggs_by_user)


register_board("eggs", rebuild=rebuild_eggs)


async def _personal_data(db: Any, rt: Runtime, user_id: str) -> Any:
    """A member's farm as they see it (their export's ``farm`` section)."""
    return to_jsonable_python(await farm.get_farm(db, rt, user_id=user_id))


register_personal_data("farm", export=_personal_data, erase=farm.erase_personal_data)
