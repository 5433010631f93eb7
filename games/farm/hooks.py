"""Serve the ``eggs`` leaderboard (eggs laid), rebuilt from the farm's egg log."""

from app.runtime import Runtime
from games.farm import service as farm
from games.leaderboards import boards
from games.leaderboards.registry import Scores, register_board


async def rebuild_eggs(rt: Runtime) -> Scores:
    return await boards.totals_by_period(rt, farm.eggs_by_user)


register_board("eggs", rebuild=rebuild_eggs)
