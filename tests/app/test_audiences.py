"""Audiences (issue 17, item 3): admins' segments over tags, tiers and attributes, previewed
and stored; membership kept current incrementally as tags change; campaigns may target one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.app.test_profile import consent, push, watched
from tests.games.helpers import event, spend
from tests.games.test_campaigns import make_campaign, quote
from tests.support.people import Person, error_code

DAY = 86_400

SPY = {"kind": "tag", "tag": "series:spy_family", "min_weight": 1.5}


@pytest.fixture
async def admin(users: Any) -> Person:
    return await users.make("admin", roles="admin,user")  # type: ignore[no-any-return]


async def preview(client, admin, rule: dict[str, Any]) -> int:
    r = await client.post("/v1/admin/audiences/preview", json={"rule": rule}, headers=admin.headers)
    assert r.status_code == 200, r.text
    return r.json()["size"]  # type: ignore[no-any-return]


async def create(client, admin, rule: dict[str, Any], name: str = "seg") -> dict[str, Any]:
    r = await client.post("/v1/admin/audiences", json={"name": name, "rule": rule}, headers=admin.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def members(client, admin, audience_id: str) -> int:
    r = await client.get(f"/v1/admin/audiences/{audience_id}", headers=admin.headers)
    assert r.status_code == 200, r.text
    return r.json()["members"]  # type: ignore[no-any-return]


async def test_only_admins_define_audiences(client, users, admin):
    li = await users.make("li")
    rule = {"rule": SPY}
    assert (await client.post("/v1/admin/audiences/preview", json=rule)).status_code == 401
    for method, path, body in [
        ("POST", "/v1/admin/audiences/preview", rule),
        ("POST", "/v1/admin/audiences", {"name": "x", **rule}),
        ("GET", "/v1/admin/audiences", None),
    ]:
        r = await client.request(method, path, json=body, headers=li.headers)
        assert r.status_code == 403, (path, r.text)
    seg = await create(client, admin, SPY)
    for r in (
        await client.get(f"/v1/admin/audiences/{seg['id']}", headers=li.headers),
        await client.patch(f"/v1/admin/audiences/{seg['id']}", json={"name": "y"}, headers=li.headers),
        await client.delete(f"/v1/admin/audiences/{seg['id']}", headers=li.headers),
    ):
        assert r.status_code == 403
    assert await members(client, admin, seg["id"]) == 0


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"kind": "tags", "tag": "a:b"}, None),
        ({"kind": "tag", "tag": "no_colon"}, None),
        ({"kind": "tag", "tag": "a:b", "min_weight": -1}, None),
        ({"kind": "tag", "tag": "a:b", "within_days": 0}, None),
        ({"kind": "tag", "tag": "a:b", "extra": 1}, None),
        ({"kind": "and", "rules": []}, None),
        ({"kind": "not"}, None),
        ({"kind": "attribute", "name": "region", "in": ["sh"], "is": True}, None),
        ({"kind": "attribute", "name": "region"}, None),
        ({"kind": "attribute", "name": "shoe_size", "in": ["42"]}, "unknown_attribute"),
        ({"kind": "attribute", "name": "tier", "at_least": "mithril"}, "unknown_value"),
        ({"kind": "attribute", "name": "cardholder", "in": ["yes"]}, "bad_test"),
        ({"kind": "attribute", "name": "cardholder", "is": "yes"}, None),
        (
            {
                "kind": "not",
                "rule": {
                    "kind": "not",
                    "rule": {
                        "kind": "not",
                        "rule": {
                            "kind": "not",
                            "rule": {"kind": "not", "rule": {"kind": "not", "rule": SPY}},
                        },
                    },
                },
            },
            "too_deep",
        ),
        ({"kind": "or", "rules": [{"kind": "and", "rules": [SPY] * 20}] * 4}, "too_large"),
    ],
)
async def test_bad_rules_are_refused_with_the_reason(client, admin, rule, reason):
    for path, body in [
        ("/v1/admin/audiences/preview", {"rule": rule}),
        ("/v1/admin/audiences", {"name": "x", "rule": rule}),
    ]:
        r = await client.post(path, json=body, headers=admin.headers)
        assert r.status_code == 422, r.text
        assert error_code(r) == "validation_error"
        if reason:
            assert r.json()["error"]["details"]["reason"] == reason
    r = await client.get("/v1/admin/audiences", headers=admin.headers)
    assert r.json() == {"items": [], "next_cursor": None}


async def test_unknown_audience_and_bad_cursor(client, admin):
    assert (await client.get("/v1/admin/audiences/au_nope", headers=admin.headers)).status_code == 404
    assert (
        await client.patch("/v1/admin/audiences/au_nope", json={"name": "x"}, headers=admin.headers)
    ).status_code == 404
    assert (await client.delete("/v1/admin/audiences/au_nope", headers=admin.headers)).status_code == 404
    assert (await client.get("/v1/admin/audiences?cursor=%%%", headers=admin.headers)).status_code == 422


async def test_preview_counts_and_membership_follows_tag_changes(client, rt, users, admin):
    li, wang, zhao = (
        await users.make("li"),
        await users.make("wang"),
        await users.make("zhao", cardholder=False),
    )
    await consent(client, li, video=True)
    await consent(client, wang, video=True)
    await consent(client, zhao, video=True)
    now = rt.clock.now().isoformat()
    await push(
        client,
        rt,
        [watched(li.id, occurred_at=now), watched(li.id, occurred_at=now), watched(wang.id, occurred_at=now)],
    )
    await push(client, rt, [watched(zhao.id, occurred_at=now), watched(zhao.id, occurred_at=now)])
    assert await preview(client, admin, SPY) == 2  # weight ≥ 1.5: li and zhao watched twice, wang once
    cardholding = {"kind": "and", "rules": [SPY, {"kind": "attribute", "name": "cardholder", "is": True}]}
    assert await preview(client, admin, cardholding) == 1  # li
    assert await preview(client, admin, {"kind": "not", "rule": cardholding}) == 3  # wang, zhao, the admin
    assert (
        await preview(client, admin, {"kind": "or", "rules": [SPY, {"kind": "tag", "tag": "genre:anime"}]})
        == 3
    )
    seg = await create(client, admin, cardholding)
    assert seg["members"] == 1 and seg["tags"] == ["series:spy_family"] and seg["evaluated_at"]
    # wang watches again: re-evaluated at once (only wang, only segments naming the tag)
    await push(client, rt, [watched(wang.id, occurred_at=now)])
    assert await members(client, admin, seg["id"]) == 2
    # li removes the tag: out at once
    assert (
        await client.delete("/v1/me/profile/tags/series:spy_family", headers=li.headers)
    ).status_code == 204
    assert await members(client, admin, seg["id"]) == 1
    # wang withdraws consent: the tag goes, and so does the membership
    await consent(client, wang, video=False)
    assert await members(client, admin, seg["id"]) == 0
    listed = (await client.get("/v1/admin/audiences", headers=admin.headers)).json()
    assert [a["id"] for a in listed["items"]] == [seg["id"]] and listed["next_cursor"] is None


async def test_only_segments_naming_a_changed_tag_are_re_evaluated_then_the_rebuild_catches_up(
    client, rt, users, admin
):
    li = await users.make("li", cardholder=False)
    await consent(client, li, video=True)
    holders = await create(client, admin, {"kind": "attribute", "name": "cardholder", "is": True}, "holders")
    fans = await create(client, admin, {"kind": "tag", "tag": "series:spy_family"}, "fans")
    base = await members(client, admin, holders["id"])
    await users.make_cardholder(li)
    await push(client, rt, [watched(li.id, occurred_at=rt.clock.now().isoformat())])
    assert await members(client, admin, fans["id"]) == 1
    assert await members(client, admin, holders["id"]) == base  # names no tag: not re-evaluated
    r = await client.post("/v1/dev/clock", json={"advance_s": 60}, headers=li.headers)  # runs the jobs
    assert "audiences_rebuild" in [j["job"] for j in r.json()["jobs"]]
    assert await members(client, admin, holders["id"]) == base + 1


async def test_recency_and_decay_drop_members_at_the_rebuild(client, rt, users, admin):
    li = await users.make("li")
    await consent(client, li, video=True)
    await push(client, rt, [watched(li.id, occurred_at=rt.clock.now().isoformat())])
    recent = await create(client, admin, {"kind": "tag", "tag": "genre:anime", "within_days": 7})
    heavy = await create(client, admin, {"kind": "tag", "tag": "genre:anime", "min_weight": 0.6})
    assert await members(client, admin, recent["id"]) == 1 and await members(client, admin, heavy["id"]) == 1
    await client.post("/v1/dev/clock", json={"advance_s": 8 * DAY}, headers=li.headers)
    assert await members(client, admin, recent["id"]) == 0  # the last watch is 8 days old
    assert await members(client, admin, heavy["id"]) == 1  # 2^(−8/30) ≈ 0.83
    await client.post("/v1/dev/clock", json={"advance_s": 15 * DAY}, headers=li.headers)
    assert await members(client, admin, heavy["id"]) == 0  # 2^(−23/30) ≈ 0.59
    r = await client.patch(
        f"/v1/admin/audiences/{recent['id']}",
        json={"rule": {"kind": "tag", "tag": "genre:anime", "within_days": 30}},
        headers=admin.headers,
    )
    assert r.status_code == 200 and r.json()["members"] == 1  # a new rule re-evaluates everyone


async def test_tiers_through_the_points_feature(client, rt, users, admin):
    li, wang = await users.make("li"), await users.make("wang")
    await spend(client, rt, [event(li.id, "offline_payment", 20_000_000, at=rt.clock.now())])  # platinum
    await spend(client, rt, [event(wang.id, "offline_payment", 6_000_000, at=rt.clock.now())])  # gold
    ids = {li.id, wang.id}
    for p, tier_id in ((li, "platinum"), (wang, "gold")):  # as the points feature says
        assert (await client.get("/v1/me/tiers", headers=p.headers)).json()["tier"]["id"] == tier_id

    def tier(**test: Any) -> dict[str, Any]:
        return {"kind": "attribute", "name": "tier", **test}

    assert await preview(client, admin, tier(at_least="gold")) == 2
    assert await preview(client, admin, tier(at_least="platinum")) == 1
    assert await preview(client, admin, tier(**{"in": ["gold"]})) == 1
    assert await preview(client, admin, tier(**{"in": ["diamond"]})) == 0
    everyone = await preview(client, admin, tier(at_least="standard"))
    assert everyone >= len(ids) + 1
    # a year later the points left the window, but the tier holds for the grace
    await client.post("/v1/dev/clock", json={"advance_s": 366 * DAY}, headers=li.headers)
    assert await preview(client, admin, tier(at_least="platinum")) == 1
    await client.post("/v1/dev/clock", json={"advance_s": 91 * DAY}, headers=li.headers)
    assert await preview(client, admin, tier(at_least="gold")) == 0


async def test_a_campaign_targets_an_audience(client, rt, users, admin):
    li, wang = await users.make("li"), await users.make("wang")
    await consent(client, li, video=True)
    await push(client, rt, [watched(li.id, occurred_at=rt.clock.now().isoformat())])
    fans = await create(client, admin, {"kind": "tag", "tag": "series:spy_family"})
    r = await client.post(
        "/v1/admin/campaigns",
        json={
            "name": "x",
            "kind": "threshold",
            "min_amount_fen": 100,
            "discount_fen": 10,
            "total_budget_fen": 1000,
            "starts_at": rt.clock.now().isoformat(),
            "ends_at": rt.clock.now().isoformat().replace("2026", "2027"),
            "audience_id": "au_nope",
        },
        headers=admin.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["details"]["reason"] == "unknown_audience"
    cp = await make_campaign(client, rt, admin, audience_id=fans["id"])
    assert cp["audience_id"] == fans["id"]
    assert (await quote(client, rt, li))["campaign_id"] == cp["id"]
    assert (await quote(client, rt, wang))["discount_fen"] == 0
    mine = (await client.get("/v1/campaigns", headers=wang.headers)).json()
    assert cp["id"] not in [c["id"] for c in mine["items"]]
    assert cp["id"] in [
        c["id"] for c in (await client.get("/v1/campaigns", headers=li.headers)).json()["items"]
    ]
    # deleting the audience: the campaign reaches nobody
    assert (
        await client.delete(f"/v1/admin/audiences/{fans['id']}", headers=admin.headers)
    ).status_code == 204
    assert (await quote(client, rt, li))["discount_fen"] == 0


async def test_concurrent_changes_to_one_member_leave_the_right_membership(client, rt, users, admin):
    both = {
        "kind": "and",
        "rules": [{"kind": "tag", "tag": "series:a"}, {"kind": "tag", "tag": "shopping:x"}],
    }
    seg = await create(client, admin, both)
    people = [await users.make(f"p{i}") for i in range(6)]
    at = rt.clock.now().isoformat()
    for p in people:
        await consent(client, p, video=True, shopping=True)
    pushes = []
    for p in people:  # each member gets the two tags in two batches at once
        pushes.append(push(client, rt, [watched(p.id, occurred_at=at, attributes={"series": "a"})]))
        pushes.append(
            push(
                client,
                rt,
                [
                    watched(
                        p.id,
                        occurred_at=at,
                        scenario="shopping",
                        type="purchased",
                        attributes={"category": "x"},
                    )
                ],
            )
        )
    await asyncio.gather(*pushes)
    assert await members(client, admin, seg["id"]) == len(people)
