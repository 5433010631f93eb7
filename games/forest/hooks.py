"""Start-up: read and validate the game rules file now, so a broken file stops the service;
serve the ``energy`` leaderboard (energy collected), rebuilt from the forest's collections."""

from app.runtime import Runtime
from games.forest import service as forest
from games.leaderboards import boards
from games.leaderboards.registry import Scores, register_board
from games.rules import rules

rules()


async def rebuild_energy(rt: Runtime) -> Scores:
    return await boards.totals_by_period(rt, forest.collected_by_user)


register_board("energy", rebuild=rebuild_energy)
