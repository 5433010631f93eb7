"""Register the games' boards (energy, steps, eggs) with the leaderboard registry at
start-up; a member's scores join their export, and their erasure takes them off every board."""

from app.hooks import register_personal_data
from games.leaderboards import boards as boards

register_personal_data("leaderboards", export=boards.personal_data, erase=boards.forget)
