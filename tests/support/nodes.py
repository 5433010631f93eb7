"""Several nodes behind nginx, for tests: ``quanzi serve`` processes and a proxy in front.

``async with nodes_behind_proxy(settings, tmp_path, count=3) as (proxy, nodes):`` starts
``count`` nodes (``quanzi serve --port P``, each its own process on its own port, all on
the run's PostgreSQL and Redis) and nginx from the distribution's packages, run as the
test's child (``nginx -p <tmp> -c <conf> -g 'daemon off;'``) with the configuration
written into the test's tmp dir: round-robin over the nodes, no sticky sessions,
WebSocket upgrade passed through. ``proxy.url`` / ``proxy.ws_url`` is where clients go.

``nodes[i].kill()`` is a crash (SIGKILL); ``nodes[i].drain()`` sends SIGTERM (the node
stops accepting, closes its sockets with 1012 and finishes what is in flight) and
``nodes[i].wait_exit()`` waits for it to be gone.

Without nginx these tests are skipped, except under ``CI=true`` where the run fails
(``.ci/run`` installs ``nginx-light``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx

from app.config import Settings
from tests.support.servers import ROOT, Server, free_port, server_env


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if Path(p).exists()), None
    )


def nginx_problem() -> str | None:
    if nginx_binary() is None:
        return "nginx is not installed (Debian: apt-get install nginx-light)"
    return None


@dataclass
class Node(Server):
    """One node: ``quanzi serve`` (the operator's command), not a bare uvicorn; with
    ``workers`` > 1, that many worker processes behind the node's one port (``quanzi
    serve --workers N``: uvicorn's supervisor, the processes share the listening socket)."""

    workers: int = 1

    def start(self) -> None:
        quanzi = Path(sys.executable).with_name("quanzi")
        cmd = [str(quanzi)] if quanzi.exists() else [sys.executable, "-c", "from app.cli import main; main()"]
        env = {**server_env(self.settings), **self.extra_env}
        self.proc = subprocess.Popen(
            [*cmd, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)],
            cwd=ROOT,
            env=env,
        )

    def drain(self) -> None:
        """SIGTERM: the graceful shutdown an orchestrator starts before replacing a node."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    async def wait_exit(self, timeout_s: float = 30.0) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"node on :{self.port} did not exit")
            await anyio.sleep(0.05)  # polling a process, not business time
        return self.proc.returncode


NGINX_CONF = """\
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}

    # Round-robin, no stickiness: any node serves any request and any socket.
    # A node that refuses connections is skipped for fail_timeout.
    upstream quanzi {{
{servers}
    }}

    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://quanzi;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


@dataclass
class Proxy:
    port: int
    directory: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def write_conf(self, nodes: list[Node]) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(f"        server 127.0.0.1:{n.port} max_fails=1 fail_timeout=3s;" for n in nodes)
        conf = self.directory / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=self.directory, servers=servers, port=self.port))
        return conf

    def start(self, nodes: list[Node]) -> None:
        binary = nginx_binary()
        assert binary is not None, nginx_problem()
        conf = self.write_conf(nodes)
        self.proc = subprocess.Popen(
            [binary, "-p", str(self.directory), "-c", str(conf), "-g", "daemon off;"],
            stderr=subprocess.PIPE,
        )

    async def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    raise RuntimeError(f"nginx exited with {self.proc.returncode}: {err}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(self.url + "/readyz", timeout=1.0)).status_code == 200:
                        return
                await anyio.sleep(0.05)  # polling a process's readiness
        raise RuntimeError("nginx did not become ready")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: nginx's own
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_nodes(
    settings: Settings, tmp_dir: Path, count: int = 3, extra_env: dict[str, str] | None = None
) -> tuple[Proxy, list[Node]]:
    """Start ``count`` nodes and nginx in front of them; then ``await wait_ready(...)``,
    and ``stop_nodes(...)`` at the end."""
    if settings.redis_url.startswith("memory://"):
        raise RuntimeError("nodes share state only through a real Redis: mark the test real_backends")
    nodes = [Node(settings, free_port(), dict(extra_env or {})) for _ in range(count)]
    proxy = Proxy(free_port(), tmp_dir / "nginx")
    try:
        for n in nodes:
            n.start()
        proxy.start(nodes)
    except BaseException:
        stop_nodes(proxy, nodes)
        raise
    return proxy, nodes


async def wait_ready(proxy: Proxy, nodes: list[Node]) -> None:
    for n in nodes:
        await n.wait_ready()
    await proxy.wait_ready()


def stop_nodes(proxy: Proxy, nodes: list[Node]) -> None:
    proxy.stop()
    for n in nodes:
        n.stop()


@contextlib.asynccontextmanager
async def nodes_behind_proxy(
    settings: Settings, tmp_dir: Path, count: int = 3, extra_env: dict[str, str] | None = None
) -> AsyncIterator[tuple[Proxy, list[Node]]]:
    proxy, nodes = start_nodes(settings, tmp_dir, count, extra_env)
    try:
        await wait_ready(proxy, nodes)
        yield proxy, nodes
    finally:
        stop_nodes(proxy, nodes)


@contextlib.asynccontextmanager
async def one_node(
    settings: Settings, *, workers: int, extra_env: dict[str, str] | None = None, ready: bool = True
) -> AsyncIterator[Node]:
    """One node, ``quanzi serve --workers N``, without a proxy: clients go to ``node.url``
    and the kernel spreads their connections over the worker processes. ``node.stop()``
    (SIGTERM to the supervisor) at the end stops every worker. With ``ready=False`` it
    yields once the processes are started (the test prepares its data while they boot)
    and the caller awaits ``node.wait_ready()`` before sending."""
    if workers > 1 and settings.redis_url.startswith("memory://"):
        raise RuntimeError("workers share state only through a real Redis: mark the test real_backends")
    node = Node(settings, free_port(), dict(extra_env or {}), workers=workers)
    try:
        node.start()
        if ready:
            await node.wait_ready()
        yield node
    finally:
        node.stop()


def worker_pids(node: Node) -> list[int]:
    """The node's worker processes (children of the ``quanzi serve`` supervisor), from /proc."""
    assert node.proc is not None
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == node.proc.pid:
            found.append(int(stat.parent.name))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (/proc/<pid>/stat), in seconds:
    a storm's cost that does not depend on how busy the machine's other tenants are."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")
