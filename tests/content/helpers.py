"""Shared helpers for the content tests."""

from __future__ import annotations

from typing import Any

import httpx

from app.db import transaction
from app.runtime import Runtime
from social.friends.models import Block
from tests.support.people import Person


async def new_post(
    client: httpx.AsyncClient, who: Person, text: str = "今天聊聊基金定投", **kw: Any
) -> dict[str, Any]:
    r = await client.post("/v1/posts", json={"kind": "post", "text": text, **kw}, headers=who.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def block(rt: Runtime, blocker: Person, blocked: Person) -> None:
    async with rt.sessionmaker() as db, transaction(db):
        db.add(Block(blocker_id=blocker.id, blocked_id=blocked.id, created_at=rt.clock.now()))


async def feed_ids(client: httpx.AsyncClient, who: Person, tab: str, limit: int = 100) -> list[str]:
    r = await client.get("/v1/feed", params={"tab": tab, "limit": limit}, headers=who.headers)
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()["items"]]
