"""Real uvicorn servers for tests that need sockets, several workers, or a kill -9.

``async with running_servers(settings, count=2) as servers:`` starts ``count``
single-worker server processes on free loopback ports, all on the test run's database
and Redis prefix, and waits until each answers ``/readyz``. ``servers[i].kill()``
sends SIGKILL (a crash in the middle of work); ``servers[i].restart()`` starts it again
on the same port.

Several processes share Redis state only through a real Redis: tests that need that are
marked ``real_backends`` (see ``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx

from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Connections per test server process (plus a quarter as overflow): a test may run three
# nodes beside its own runtime's pool, and the machine's PostgreSQL allows 100 clients.
SERVER_POOL_SIZE = 10


def server_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANZI_")}
    env.update(
        {
            "QUANZI_ENV": settings.env,
            "QUANZI_DATA_DIR": str(settings.data_dir),
            "QUANZI_DATABASE_URL": settings.database_url,
            "QUANZI_REDIS_URL": settings.redis_url,
            "QUANZI_REDIS_PREFIX": settings.redis_prefix,
            "QUANZI_SECRET_KEY": settings.secret_key,
            "QUANZI_SERVICE_TOKEN": settings.service_token,
            "QUANZI_PHONE_HMAC_KEY": settings.phone_hmac_key,
            "QUANZI_LOG_LEVEL": "WARNING",
            "QUANZI_DB_POOL_SIZE": str(min(settings.db_pool_size, SERVER_POOL_SIZE)),
            "PYTHONPATH": str(ROOT),
        }
    )
    if settings.clock_start is not None:
        env["QUANZI_CLOCK_START"] = settings.clock_start.isoformat()
    return env


@dataclass
class Server:
    settings: Settings
    port: int
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app_factory",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--ws-max-size",
            str(self.settings.ws_transport_max_bytes),
            "--ws-per-message-deflate",
            str(self.settings.ws_per_message_deflate).lower(),
            "--timeout-keep-alive",
            str(self.settings.http_keep_alive_s),
        ]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**server_env(self.settings), **self.extra_env})

    async def wait_ready(self, timeout_s: float = 90.0) -> None:
        # Generous: on a loaded 2-core machine importing the service alone takes ~15 s.
        # It only waits this long when a server is broken.
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"server on :{self.port} exited with {self.proc.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(self.url + "/readyz", timeout=1.0)).status_code == 200:
                        return
                await anyio.sleep(0.05)  # polling a process's readiness, not waiting on business time
        raise RuntimeError(f"server on :{self.port} did not become ready")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, in-flight transactions die with the process."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    async def restart(self) -> None:
        self.stop()
        self.start()
        await self.wait_ready()


@contextlib.asynccontextmanager
async def running_servers(
    settings: Settings, count: int = 1, extra_env: dict[str, str] | None = None
) -> AsyncIterator[list[Server]]:
    if count > 1 and settings.redis_url.startswith("memory://"):
        # Each process would have a Redis of its own: no shared clock, hub or gate.
        raise RuntimeError(
            "several servers share state only through a real Redis: mark the test real_backends"
        )
    servers = [Server(settings, free_port(), dict(extra_env or {})) for _ in range(count)]
    try:
        for s in servers:
            s.start()
        for s in servers:
            await s.wait_ready()
        yield servers
    finally:
        for s in servers:
            s.stop()
