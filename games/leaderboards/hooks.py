"""Register the games' boards (energy, steps, eggs) with the leaderboard registry at start-up."""

from games.leaderboards import boards as boards
