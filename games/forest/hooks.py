"""Start-up: read and validate the game rules file now, so a broken file stops the service."""

from games.rules import rules

rules()
