from __future__ import annotations

from urllib.parse import urlsplit

from app import seed as seeding
from app.auth import tokens


async def test_demo_seed_gives_li_na_a_feed_and_the_moderator_a_queue(client, rt):
    ctx = await seeding.run(rt)
    await seeding.run(rt)  # harmless the second time

    def headers(handle: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens.issue(rt.settings, ctx.users[handle].id)}"}

    following = (await client.get("/v1/feed?tab=following", headers=headers("lina"))).json()["items"]
    assert {p["source"] for p in following} == {"pgc", "ugc"}
    article = next(p for p in following if p["kind"] == "article" and p["media"])
    assert article["product"]["link"].startswith("https://bank.example/") and article["badge"]
    assert article["product"]["available"] and article["product"]["risk_level"] == "R3"  # Li Na is C3
    assert article["author"]["badge"] == "advisor"
    assert (await client.get(urlsplit(article["media"][0]["thumb_url"]).path)).status_code == 200
    for_you = (await client.get("/v1/feed?tab=for_you", headers=headers("lina"))).json()["items"]
    assert for_you[0]["reason"]["text_zh"] == "因为你关注基金" and for_you[0]["product"]["available"]
    assert all(i["reason"] for i in for_you)
    mine = (await client.get("/v1/feed?tab=latest", headers=headers("lina"))).json()["items"]
    question = next(p for p in mine if p["kind"] == "question")
    assert question["accepted_comment_id"] and question["comment_count"] == 2
    queue = (await client.get("/v1/moderation/queue", headers=headers("moderator"))).json()["items"]
    # five to work through (content/moderation/seed.py): four held by the filter, one reported
    assert len(queue) == 5 and queue[0]["author_id"] == ctx.users["chenjie"].id
    assert sorted(i["reason"] for i in queue) == ["filter"] * 4 + ["reports"]
