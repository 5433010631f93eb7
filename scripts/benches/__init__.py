"""Benchmark scenarios by area; ``scripts/bench.py`` runs them. Add a module's name here."""

MODULES = (
    "core",
    "social",
    "chat",
    "money",
    "games",
    "content",
    "profile",
    "insights",
    "points",
    "campaigns",
    "audiences",
)
