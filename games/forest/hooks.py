"""Start-up: read and validate the game rules file now, so a broken file stops the service;
serve the ``energy`` leaderboard (energy collected), rebuilt from the forest's collections."""

from typing import Any

from pydantic_core import to_jsonable_python

from app.hooks import register_personal_data
from app.runtime import Runtime
from games.forest import service as forest
from games.leaderboards import boards
from games.leaderboards.registry import Scores, register_board
from games.rules import rules

rules()


async def rebuild_energy(rt: Runtime) -> Scores:
    return await boards.totals_by_period(rt, forest.collected_by_user)


register_board("energy", rebuild=rebuild_energy)


async def _personal_data(db: Any, rt: Runtime, user_id: str) -> Any:
    """A member's forest as they see it (their export's ``forest`` section)."""
    return to_jsonable_python(await forest.get_forest(db, rt, user_id=user_id))


register_personal_data("forest", export=_personal_data, erase=forest.erase_personal_data)
