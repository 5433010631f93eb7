"""Serve the ``creators`` leaderboard, rebuilt from content's likes and accepted answers."""

from content import creators
from games.leaderboards.registry import register_board

register_board(creators.BOARD, rebuild=creators.current_scores)
