from __future__ import annotations

import pytest

from tests.content.helpers import new_post
from tests.content.products_support import catalogue, product
from tests.support.people import error_code


async def test_user_post_is_ugc_and_advisor_article_is_pgc_with_badge(client, users):
    alice = await users.make("alice")
    adv = await users.make("advisor", roles="advisor,user")
    p = await new_post(client, alice)
    assert p["source"] == "ugc" and p["badge"] is None and p["status"] == "published"
    assert p["author"]["id"] == alice.id and p["like_count"] == 0 and p["flags"] == []
    admin = await users.make("admin", roles="admin,user")
    await catalogue(client, admin)
    r = await client.post(
        "/v1/posts",
        json={
            "kind": "article",
            "title": "定投入门",
            "text": "定投是一种纪律。",
            "product": {"product_id": "dep-r1"},
        },
        headers=adv.headers,
    )
    assert r.status_code == 201, r.text
    art = r.json()
    assert art["source"] == "pgc" and art["badge"] == "理财经理"
    assert art["product"]["product_id"] == "dep-r1" and art["product"]["available"]
    assert art["product"]["link"] == "https://bank.example/products/dep-r1"
    got = await client.get(f"/v1/posts/{art['id']}", headers=alice.headers)
    assert got.status_code == 200 and got.json()["title"] == "定投入门"
    assert got.json()["flags"] == []  # moderation flags are not shown to readers (one shape: a list)


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "article", "text": "no title"},
        {"kind": "story", "text": "x"},
        {"kind": "post", "text": ""},
        {"kind": "post", "text": "x" * 5001},
        {"kind": "post", "text": "x", "media_ids": [f"m{i}" for i in range(10)]},
        {"kind": "post", "text": "x", "media_ids": ["m_nope"]},
        {
            "kind": "post",
            "text": "x",
            "product": {"product_id": "p", "title": "t", "link": "https://evil.cn/x"},
        },
        {
            "kind": "post",
            "text": "x",
            "product": {"product_id": "p", "title": "t", "link": "http://bank.example/x"},
        },
        {"kind": "post", "text": 5},
    ],
)
async def test_bad_posts_are_refused(client, users, body):
    alice = await users.make("alice")
    r = await client.post("/v1/posts", json=body, headers=alice.headers)
    assert r.status_code == 422, r.text
    assert error_code(r) == "validation_error"
    assert (await client.get("/v1/feed", headers=alice.headers)).json()["items"] == []


async def test_text_of_5000_characters_is_fine(client, users):
    alice = await users.make("alice")
    await new_post(client, alice, text="好" * 5000)


async def test_author_edits_within_the_window_only(client, users, rt):
    alice = await users.make("alice")
    bob = await users.make("bob")
    p = await new_post(client, alice)
    r = await client.patch(f"/v1/posts/{p['id']}", json={"text": "改过了"}, headers=bob.headers)
    assert r.status_code == 403
    assert (await client.get(f"/v1/posts/{p['id']}", headers=bob.headers)).json()["text"] == p["text"]
    r = await client.patch(f"/v1/posts/{p['id']}", json={"text": "改过了"}, headers=alice.headers)
    assert r.status_code == 200 and r.json()["text"] == "改过了" and r.json()["edited_at"]
    rt.clock.advance(15 * 60 + 1)
    r = await client.patch(f"/v1/posts/{p['id']}", json={"text": "再改"}, headers=alice.headers)
    assert r.status_code == 409 and r.json()["error"]["details"]["reason"] == "edit_window_closed"
    assert (await client.get(f"/v1/posts/{p['id']}", headers=bob.headers)).json()["text"] == "改过了"


async def test_author_deletes_any_time_and_others_cannot(client, users, rt):
    alice = await users.make("alice")
    bob = await users.make("bob")
    p = await new_post(client, alice)
    rt.clock.advance(30 * 24 * 3600)
    assert (await client.delete(f"/v1/posts/{p['id']}", headers=bob.headers)).status_code == 403
    assert (await client.get(f"/v1/posts/{p['id']}", headers=bob.headers)).status_code == 200
    assert (await client.delete(f"/v1/posts/{p['id']}", headers=alice.headers)).status_code == 204
    for who in (alice, bob):
        r = await client.get(f"/v1/posts/{p['id']}", headers=who.headers)
        assert r.status_code == 404 and error_code(r) == "not_found"
    assert (await client.delete(f"/v1/posts/{p['id']}", headers=alice.headers)).status_code == 404


async def test_every_content_endpoint_needs_a_token(client, users):
    alice = await users.make("alice")
    p = await new_post(client, alice)
    pid = p["id"]
    calls = [
        ("POST", "/v1/posts", {"kind": "post", "text": "x"}),
        ("GET", f"/v1/posts/{pid}", None),
        ("PATCH", f"/v1/posts/{pid}", {"text": "y"}),
        ("DELETE", f"/v1/posts/{pid}", None),
        ("GET", "/v1/posts/hot", None),
        ("GET", "/v1/feed", None),
        ("POST", f"/v1/posts/{pid}/comments", {"text": "x"}),
        ("GET", f"/v1/posts/{pid}/comments", None),
        ("POST", f"/v1/posts/{pid}/answers/cm_x/accept", None),
        ("POST", f"/v1/posts/{pid}/like", None),
        ("DELETE", f"/v1/posts/{pid}/like", None),
        ("POST", f"/v1/posts/{pid}/report", {"reason": "spam"}),
        ("POST", f"/v1/users/{alice.id}/follow", None),
        ("DELETE", f"/v1/users/{alice.id}/follow", None),
        ("POST", "/v1/media", None),
        ("GET", "/v1/moderation/queue", None),
        ("GET", "/v1/moderation/terms", None),
        ("PUT", "/v1/moderation/terms", {"categories": {}}),
        ("POST", "/v1/moderation/items/mi_x/decision", {"action": "approve", "reason": "ok"}),
        ("POST", f"/v1/moderation/users/{alice.id}/mute", {"hours": 1, "reason": "x"}),
        ("GET", "/v1/moderation/audit", None),
    ]
    for method, path, body in calls:
        r = await client.request(method, path, json=body, headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401, (method, path, r.text)
        r = await client.request(method, path, json=body)
        assert r.status_code == 401, (method, path, r.text)
    assert (await client.get(f"/v1/posts/{pid}", headers=alice.headers)).json()["text"] == p["text"]


async def test_unknown_post_is_not_found_everywhere(client, users):
    alice = await users.make("alice")
    for method, path in [
        ("GET", "/v1/posts/p_nope"),
        ("POST", "/v1/posts/p_nope/like"),
        ("DELETE", "/v1/posts/p_nope/like"),
        ("GET", "/v1/posts/p_nope/comments"),
    ]:
        r = await client.request(method, path, headers=alice.headers)
        assert r.status_code == 404, (method, path)
    r = await client.post("/v1/users/u_nope/follow", headers=alice.headers)
    assert r.status_code == 404


@pytest.mark.parametrize(
    "link",
    [
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "https://evil.example\\@bank.example/x",
        "https://bank.example@evil.example/x",
        "https://user:pw@bank.example/x",
        "https://bank.example.evil.example/x",
        "https://evilbank.example/x",
        "https://bank.example:8443/x",
        "https://bank.example/x\u200b",
        "javascript:alert(1)",
        "//evil.example/x",
        "/products/fund-001",
        "https://bank.example /x",
    ],
)
async def test_product_links_that_leave_the_bank_are_refused(client, users, link):
    """Links now live in the catalogue (content/products): an admin's link obeys the rules."""
    admin = await users.make("admin", roles="admin,user")
    r = await client.post("/v1/admin/products", json={**product("p1"), "link": link}, headers=admin.headers)
    assert r.status_code == 422, r.text
    assert error_code(r) == "validation_error"
    assert r.json()["error"]["details"]["field"] == "link"


@pytest.mark.parametrize(
    "link",
    ["https://bank.example/p/fund-001", "https://m.bank.example/p?id=1#top", "quanzi://product/fund-001"],
)
async def test_bank_links_and_app_deep_links_are_accepted(client, users, link):
    admin = await users.make("admin", roles="admin,user")
    r = await client.post(
        "/v1/admin/products", json={**product("p1", risk="R1"), "link": link}, headers=admin.headers
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/posts",
        json={"kind": "post", "text": "x", "product": {"product_id": "p1"}},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["product"]["link"] == link
