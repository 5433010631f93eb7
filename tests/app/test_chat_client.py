"""``scripts/chat_client.py``, the example client of docs/protocol.md, against a real server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.servers import running_servers

ROOT = Path(__file__).resolve().parents[2]


async def test_piped_input_is_sent_and_acknowledged_before_the_client_exits(settings, client, users):
    alice = await users.make("alice", phone="+8613800138021")
    bob = await users.make("bob")
    await users.friends(alice, bob)
    conv = (
        await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    ).json()
    async with running_servers(settings) as [server]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "scripts" / "chat_client.py"),
            "--base-url",
            server.url,
            "--phone",
            alice.phone,
            "--conversation",
            conv["id"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        out, err = await asyncio.wait_for(proc.communicate("第一句\n第二句\n".encode()), timeout=60)
        assert proc.returncode == 0, (out.decode(), err.decode())
        async with httpx.AsyncClient(base_url=server.url) as c:
            r = await c.get(f"/v1/conversations/{conv['id']}/messages", headers=bob.headers)
    texts = [m["body"]["text"] for m in r.json()["items"]]
    assert texts == ["第一句", "第二句"]
