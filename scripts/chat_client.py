#!/usr/bin/env python3
"""A runnable example client of the Quanzi realtime protocol (docs/protocol.md).

Logs in with the dev one-time code, opens ``/v1/ws``, catches up on a conversation with
``sync``, then prints what arrives and sends each line you type (with a fresh ``cid``,
resent on reconnect until acknowledged). Answers the server's pings. When its input ends
(piped input, or Ctrl-D) it waits for the acks of what it sent, then exits (status 1 if
some never came). When the server refuses the token (close 4401: expired, or the session
ended) it refreshes the token pair and reconnects, or logs in again if that fails.

    echo "你好" | .venv/bin/python scripts/chat_client.py --phone +8613800138001

    python3 scripts/dev.py demo                                      # in another terminal
    .venv/bin/python scripts/chat_client.py --phone +8613800138001   # Li Na; picks her first conversation
    .venv/bin/python scripts/chat_client.py --phone +8613800138002 --conversation c_…
    .venv/bin/python scripts/chat_client.py --phone +8613800138001 --say "你好" --exit

Needs only ``httpx`` and ``websockets`` (both installed with the project).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from typing import Any

import httpx
import websockets

ACK_WAIT_S = 10.0


class TokenRefused(Exception):
    """The server closed with 4401: refresh the token, then reconnect."""


async def login(base: str, phone: str) -> dict[str, Any]:
    """A new session's token pair (``access_token``, ``refresh_token``)."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        r = await http.post("/v1/auth/otp", json={"phone": phone})
        r.raise_for_status()
        code = r.json().get("dev_code")
        if not code:
            sys.exit("the server did not return a dev_code (is QUANZI_ENV dev or test?)")
        r = await http.post("/v1/auth/token", json={"phone": phone, "code": code})
        r.raise_for_status()
        return dict(r.json())


async def renew(base: str, phone: str, pair: dict[str, Any]) -> dict[str, Any]:
    """A fresh pair: the refresh token once, or a new login when the session is over."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        r = await http.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    if r.status_code == 200:
        return dict(r.json())
    return await login(base, phone)


async def pick_conversation(base: str, token: str) -> str:
    async with httpx.AsyncClient(
        base_url=base, timeout=10, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        items = (await http.get("/v1/conversations")).json()["items"]
    if not items:
        sys.exit("no conversations yet: start one with POST /v1/conversations")
    for c in items:
        name = c["title"] or (c["peer"] or {}).get("display_name")
        print(f"  {c['id']}  {name}  unread={c['unread_count']}")
    return str(items[0]["id"])


def show(frame: dict[str, Any]) -> None:
    op = frame.get("op")
    if op == "message":
        m = frame["message"]
        body = m["body"].get("text") if m["kind"] == "text" else json.dumps(m["body"], ensure_ascii=False)
        print(f"[{frame['conversation_id']} #{frame['seq']}] {m['sender_id'] or 'system'}: {body}")
    elif op == "notify":
        n = frame["notification"]
        print(f"(notification) {n['kind']}: {json.dumps(n['data'], ensure_ascii=False)}")
    elif op == "error":
        print(f"(error {frame['code']}) {frame['message']} cid={frame.get('cid')}")
    elif op in ("ack", "synced", "read"):
        pass
    else:
        print(f"({op}) {frame}")


async def session(
    ws_url: str, token: str, conversation_id: str, state: dict[str, Any], say: list[str]
) -> None:
    """One connection: auth, resend what is unacknowledged, sync, then read and write.
    Raises TokenRefused (4401)."""
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps({"op": "auth", "token": token}))
        ready = json.loads(await ws.recv())
        if ready.get("op") != "ready":
            if ready.get("code") == "unauthenticated":
                raise TokenRefused(ready.get("message"))
            sys.exit(f"refused: {ready}")
        # Resend what the last connection did not see acknowledged: the cid makes it safe.
        for frame in state["unacked"].values():
            await ws.send(json.dumps(frame))
        await ws.send(
            json.dumps({"op": "sync", "conversation_id": conversation_id, "after_seq": state["seq"]})
        )

        all_acked = asyncio.Event()
        if not state["unacked"]:
            all_acked.set()

        async def reader() -> None:
            async for raw in ws:
                frame = json.loads(raw)
                op = frame.get("op")
                if op == "ping":
                    await ws.send(json.dumps({"op": "pong"}))
                    continue
                if op == "ack":
                    state["unacked"].pop(frame["cid"], None)
                    if not state["unacked"]:
                        all_acked.set()
                if op == "message" and frame["conversation_id"] == conversation_id:
                    if frame["seq"] <= state["seq"]:
                        continue  # already shown (a sync and a live push can overlap)
                    state["seq"] = frame["seq"]
                    await ws.send(
                        json.dumps({"op": "read", "conversation_id": conversation_id, "seq": frame["seq"]})
                    )
                if op == "synced" and frame.get("more"):
                    await ws.send(
                        json.dumps(
                            {"op": "sync", "conversation_id": conversation_id, "after_seq": frame["seq"]}
                        )
                    )
                show(frame)

        async def writer() -> None:
            lines = list(say)
            while True:
                if lines:
                    line = lines.pop(0)
                elif state["eof"]:
                    return
                else:
                    line = await state["input"].get()
                if not line:
                    state["eof"] = True
                    return
                if not line.strip():
                    continue
                cid = uuid.uuid4().hex
                frame = {
                    "op": "send",
                    "cid": cid,
                    "conversation_id": conversation_id,
                    "body": {"kind": "text", "text": line.rstrip("\n")},
                }
                state["unacked"][cid] = frame
                all_acked.clear()
                await ws.send(json.dumps(frame, ensure_ascii=False))

        read, write = asyncio.create_task(reader()), asyncio.create_task(writer())
        acked = asyncio.create_task(all_acked.wait())
        try:
            await asyncio.wait([read, write], return_when=asyncio.FIRST_COMPLETED)
            if write.done() and not read.done():
                # Input ended (piped text, Ctrl-D, or the --say lines): leave once what was
                # sent is acknowledged, while the reader keeps taking frames.
                await asyncio.wait([acked, read], timeout=ACK_WAIT_S, return_when=asyncio.FIRST_COMPLETED)
                if acked.done():
                    state["done"] = True
                elif not read.done():
                    sys.exit(f"{len(state['unacked'])} message(s) not acknowledged within {ACK_WAIT_S:g} s")
        finally:
            for t in (read, write, acked):
                t.cancel()
        if ws.close_code == 4401:
            raise TokenRefused(ws.close_reason)
        # Otherwise the connection dropped: the caller reconnects and resends by cid.


async def read_stdin(queue: asyncio.Queue[str]) -> None:
    """Every line typed or piped in, then "" at the end of the input."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        await queue.put(line)
        if not line:
            return


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--phone", default="+8613800138001", help="a demo phone (Li Na by default)")
    parser.add_argument("--conversation", help="conversation id (default: my most recent)")
    parser.add_argument("--say", action="append", default=[], help="send this text first (repeatable)")
    parser.add_argument(
        "--exit", action="store_true", help="leave once the --say lines are acknowledged (no typing)"
    )
    args = parser.parse_args()
    pair = await login(args.base_url, args.phone)
    conversation_id = args.conversation or await pick_conversation(args.base_url, pair["access_token"])
    ws_url = args.base_url.replace("http", "ws", 1) + "/v1/ws"
    state: dict[str, Any] = {"seq": 0, "unacked": {}, "done": False, "eof": args.exit}
    print(f"connected as {args.phone} to {conversation_id}; type a line to send it")
    # One reader of stdin for the whole run (a reconnect must not start a second one).
    state["input"] = asyncio.Queue()
    # (With --exit there is nothing to type: the input ends after the --say lines.)
    feeder = None if args.exit else asyncio.create_task(read_stdin(state["input"]))
    while not state["done"]:
        try:
            say, args.say = args.say, []  # typed lines are sent once; unacked ones are resent by cid
            await session(ws_url, pair["access_token"], conversation_id, state, say)
            if not state["done"]:
                await asyncio.sleep(1)  # the server closed the connection: reconnect
        except TokenRefused as exc:
            print(f"(token refused: {exc}; refreshing)")
            pair = await renew(args.base_url, args.phone, pair)
        except (OSError, websockets.ConnectionClosed) as exc:
            print(f"(disconnected: {exc}; reconnecting)")
            await asyncio.sleep(1)
    if feeder is not None:
        feeder.cancel()


if __name__ == "__main__":
    asyncio.run(main())
