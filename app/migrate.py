"""The schema's revision: migrate once per deployment, and know when the schema is not ours.

``upgrade`` (``quanzi migrate``, the demo, tests) runs Alembic under a PostgreSQL
advisory lock taken inside the migration transaction (``migrations/env.py``): when
several nodes start together and each runs ``quanzi migrate``, one migrates and the
others wait, then find the schema at head and do nothing.

``schema_state`` tells a node where the database stands against the revisions it ships:
at head (serve), behind (``/readyz`` answers 503 until someone migrates), or at a
revision this code does not know — a newer release migrated it — which a node refuses
to serve (``SchemaUnknown``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings

ROOT = Path(__file__).resolve().parent.parent
# pg_advisory_xact_lock key held while migrating ("quanzimig" in ASCII, as a bigint).
MIGRATE_LOCK = 0x7175616E7A696D69


class SchemaUnknown(Exception):
    """The database is at a revision this code does not ship; the message is one line."""


def alembic_config(settings: Settings) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["settings"] = settings
    return cfg


def upgrade(settings: Settings) -> None:
    """Bring the schema to the newest revision (there is one head; a test keeps it so),
    once per deployment (advisory lock)."""
    command.upgrade(alembic_config(settings), "head")


@cache
def _script() -> ScriptDirectory:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    return ScriptDirectory.from_config(cfg)


def head() -> str:
    """The revision this code expects."""
    found = _script().get_current_head()
    if found is None:
        raise RuntimeError("no migrations")
    return found


def known(revision: str) -> bool:
    try:
        return _script().get_revision(revision) is not None
    except Exception:  # alembic raises its own errors for an unknown id
        return False


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # None: never migrated
    head: str

    @property
    def ready(self) -> bool:
        return self.current == self.head

    @property
    def unknown(self) -> bool:
        return self.current is not None and not known(self.current)

    def describe(self) -> str:
        if self.ready:
            return "ok"
        if self.current is None:
            return f"not migrated (this release needs {self.head}): run `quanzi migrate`"
        if self.unknown:
            return f"at revision {self.current}, unknown to this release (needs {self.head})"
        return f"at revision {self.current}, behind {self.head}: run `quanzi migrate`"


async def schema_state(conn: AsyncConnection) -> SchemaState:
    """Where the database stands. Leaves ``conn`` outside a transaction."""
    try:
        rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    except ProgrammingError:  # no alembic_version table: never migrated
        rows = []
    await conn.rollback()
    current = rows[0] if len(rows) == 1 else (",".join(sorted(rows)) if rows else None)
    return SchemaState(current=current, head=head())


async def check_serveable(conn: AsyncConnection) -> SchemaState:
    """The schema state; raises SchemaUnknown when this code must not serve on it."""
    state = await schema_state(conn)
    if state.unknown:
        raise SchemaUnknown(f"refusing to serve: the database schema is {state.describe()}")
    return state
