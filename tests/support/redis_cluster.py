"""A local three-master Redis Cluster for tests, from the distribution's ``redis-server``.

``start_cluster(tmp_dir)`` starts three ``redis-server --cluster-enabled yes`` processes
on free ports (each with its cluster-bus port, ``port + 10000``, free too) in ``tmp_dir``,
joins them with ``redis-cli --cluster create … --cluster-yes`` and waits until every node
reports ``cluster_state:ok``; ``cluster.url`` is the service's
``redis+cluster://127.0.0.1:a,127.0.0.1:b,127.0.0.1:c`` and ``cluster.stop()`` ends the
processes. The ``redis_cluster_url`` fixture (``tests/conftest.py``) starts one per test
session, on demand: tests take it through ``REDIS_KINDS``.

Without ``redis-server`` the cluster tests are skipped, except under ``CI=true``, where
the run fails (``.ci/run`` installs it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Parametrise a real_backends test over one Redis server and a Redis Cluster:
# ``@pytest.mark.parametrize("redis_kind", REDIS_KINDS)``.
REDIS_KINDS = ["single", pytest.param("cluster", marks=pytest.mark.redis_cluster)]


def cluster_problem() -> str | None:
    for tool in ("redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: apt-get install redis-server)"
    return None


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(n: int) -> list[int]:
    """``n`` free ports whose cluster-bus ports (``+10000``) are free too."""
    found: list[int] = []
    while len(found) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < 55535 and port not in found and _free(port + 10000):
            found.append(port)
    return found


@dataclass
class Cluster:
    ports: list[int]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _cli(port: int, *args: str) -> str:
    return subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout


def start_cluster(tmp_dir: Path, masters: int = 3) -> Cluster:
    cluster = Cluster(_ports(masters))
    try:
        for port in cluster.ports:
            node_dir = tmp_dir / str(port)
            node_dir.mkdir(parents=True, exist_ok=True)
            cluster.procs.append(
                subprocess.Popen(
                    [
                        "redis-server",
                        *("--port", str(port), "--bind", "127.0.0.1"),
                        *("--cluster-enabled", "yes", "--cluster-node-timeout", "5000"),
                        *("--cluster-config-file", str(node_dir / "nodes.conf"), "--dir", str(node_dir)),
                        *("--save", "", "--appendonly", "no", "--logfile", str(node_dir / "redis.log")),
                    ],
                    stdout=subprocess.DEVNULL,
                )
            )
        _wait(lambda: all("PONG" in _cli(p, "ping") for p in cluster.ports), "the nodes to answer")
        created = subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in cluster.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout}{created.stderr}")
        _wait(
            lambda: all("cluster_state:ok" in _cli(p, "cluster", "info") for p in cluster.ports),
            "cluster_state:ok on every node",
        )
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _wait(ready: object, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.1)  # polling processes coming up, not business time
    raise RuntimeError(f"Redis Cluster: timed out waiting for {what}")
