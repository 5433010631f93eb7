"""Content scenarios: the feed over a large post table, and post creation through the term filter.

- ``feed``: 1 000 000 posts from 50 000 authors (``--quick``: 20 000 from 2 000), spread
  over 30 days with skewed likes and comments; one reader following 500 authors reads
  the first page of the ``following``, ``hot`` and ``latest`` tabs. The main figures are
  the ``following`` tab; ``hot`` and ``latest`` are in the extras. Target p99 ≤ 50 ms.
- ``feed_for_you``: the same table with texts over six topics and 1 % of the posts carrying
  a product card; a reader assessed C3, following 500 authors, with consented topic tags
  (funds, insurance, travel) reads the first page of ``tab=for_you``. Target p99 ≤ 50 ms.
- ``post_create``: ``POST /v1/posts`` with 5 000-character texts while the term filter
  holds 10 000 terms (set through ``PUT /v1/moderation/terms``), against ``GET /v1/me``.
"""

from __future__ import annotations

import json
import random
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import text, update

from app.auth.models import User
from app.db import transaction
from content.config import ContentSettings
from content.feed.ranking import hot_key
from content.moderation import termfilter
from content.posts.models import Follow, Post
from scripts.benchlib import Bench, Person, Result, measure

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
COMMON = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研"


def _id_at(ms: int, rng: random.Random) -> str:
    """A post id shaped like ``app.ids.new_id``, for a chosen creation time."""
    value = (ms << 80) | rng.getrandbits(80)
    chars = []
    for _ in range(26):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "p_" + "".join(reversed(chars))


async def _bulk(b: Bench, table: Any, rows: list[dict[str, Any]]) -> None:
    json_cols = {"media", "flags", "product"}
    cols = list(rows[0].keys())
    records = [
        tuple(json.dumps(r[c]) if c in json_cols and r[c] is not None else r[c] for c in cols) for r in rows
    ]
    async with b.rt.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        async with driver.transaction():
            await driver.copy_records_to_table(table.__tablename__, records=records, columns=cols)


TOPICAL = [
    "基金定投的一点体会",
    "大额存单还是定期存款",
    "保险怎么配",
    "周末旅行攒钱计划",
    "黄金还能买吗",
    "记账第一天",
]
PRODUCT_IDS = ["bench-dep", "bench-fund-r3", "bench-fund-r5", "bench-ins"]


async def seed_feed(b: Bench, *, n_posts: int, n_authors: int, topical: bool = False) -> Person:
    """Seed the feed scenario's authors, posts and follows; returns the reader (follows 500).

    ``topical``: texts rotate over topics (funds, deposits, insurance, travel, gold, none)
    and 1 % of the posts carry a product card (``PRODUCT_IDS``, made beforehand)."""
    rng = random.Random(7)
    cs = ContentSettings()
    authors: list[str] = []
    while len(authors) < n_authors:
        authors += [p.id for p in await b.make_users(min(10_000, n_authors - len(authors)))]
    [reader] = await b.make_users(1)
    now = b.rt.clock.now()
    follow_ids = rng.sample(authors, 500)
    await _bulk(
        b, Follow, [{"follower_id": reader.id, "followee_id": a, "created_at": now} for a in follow_ids]
    )
    span_s = 30 * 24 * 3600
    # Creation times in order, so ids (time-sortable) agree with created_at.
    offsets = sorted(rng.random() * span_s for _ in range(n_posts))
    batch: list[dict[str, Any]] = []
    for i, off in enumerate(offsets):
        created = now - timedelta(seconds=span_s - off)
        likes = int(rng.paretovariate(1.2)) - 1
        comments = int(rng.paretovariate(1.5)) - 1
        pgc = rng.random() < 0.02
        roll = rng.random()
        batch.append(
            {
                "id": _id_at(int(created.timestamp() * 1000), rng),
                "author_id": authors[rng.randrange(n_authors)],
                "kind": "article" if pgc else "post",
                "source": "pgc" if pgc else "ugc",
                "badge": "理财经理" if pgc else None,
                "title": "标题" if pgc else None,
                "text": f"第 {i} 条帖子：{TOPICAL[i % len(TOPICAL)]}"
                if topical
                else f"第 {i} 条帖子：今天聊聊定投和记账。",
                "media": [],
                "product": {"product_id": PRODUCT_IDS[i % len(PRODUCT_IDS)]}
                if topical and rng.random() < 0.01
                else None,
                "status": "published" if roll < 0.98 else ("pending_review" if roll < 0.99 else "removed"),
                "flags": [],
                "like_count": likes,
                "comment_count": comments,
                "report_count": 0,
                "hot_score": hot_key(
                    likes=likes,
                    comments=comments,
                    created_at=created,
                    pgc=pgc,
                    pgc_boost=cs.pgc_boost,
                    half_life_h=cs.hot_half_life_h,
                ),
                "accepted_comment_id": None,
                "accepted_at": None,
                "created_at": created,
                "edited_at": None,
            }
        )
        if len(batch) == 20_000:
            await _bulk(b, Post, batch)
            batch = []
    if batch:
        await _bulk(b, Post, batch)
    # Vacuumed, analysed and written out, as tables long in use would be: otherwise
    # autovacuum reads the million fresh rows, and the next checkpoint writes their pages,
    # during the measurement.
    async with b.rt.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
        await conn.execute(text("CHECKPOINT"))
    return reader


async def feed(b: Bench) -> Result:
    """p99 of the first page of the following and hot tabs over a large post table."""
    n_posts = b.scale(1_000_000, 20_000)
    n_authors = b.scale(50_000, 2_000)
    t_seed = time.perf_counter()
    reader = await seed_feed(b, n_posts=n_posts, n_authors=n_authors)
    seed_s = time.perf_counter() - t_seed
    clients = b.clients
    results: dict[str, Any] = {}
    # Latency of one reader (concurrency 1: the p99 the target is about), then throughput
    # with 10 readers at once (on a shared 2-core machine that is mostly queueing).
    for concurrency, total in ((1, b.scale(600, 150)), (10, b.scale(2000, 300))):
        for tab in ("following", "hot", "latest"):

            async def op(i: int, tab: str = tab) -> None:
                r = await clients[i % len(clients)].get(
                    f"/v1/feed?tab={tab}&limit=20", headers=reader.headers
                )
                r.raise_for_status()
                assert len(r.json()["items"]) == 20

            await measure(op, total=30, concurrency=concurrency)  # warm-up
            results[f"{tab}@{concurrency}"] = await measure(op, total=total, concurrency=concurrency)
    return Result(
        stats=results["following@1"],
        baseline=await b.baseline(1),
        extra={
            "tab": "following",
            "concurrency": 1,
            "posts": n_posts,
            "authors": n_authors,
            "followed": 500,
            "seed_s": round(seed_s, 1),
            "hot": results["hot@1"].summary(),
            "latest": results["latest@1"].summary(),
            "at_concurrency_10": {
                "following": results["following@10"].summary(),
                "hot": results["hot@10"].summary(),
                "latest": results["latest@10"].summary(),
                "baseline_get_me": (await b.baseline(10)).summary(),
            },
            "target_p99_ms": 50,
        },
    )


async def feed_for_you(b: Bench) -> Result:
    """p99 of the first pages of the "for you" tab (1 000 000 posts; a reader assessed C3
    following 500 authors, with consented topic tags for funds, insurance and travel)."""
    from app.auth import service as auth
    from app.profile import service as profile
    from app.profile.schemas import ConsentChange
    from content.products import service as products
    from content.products.schemas import ProductIn

    n_posts = b.scale(1_000_000, 20_000)
    n_authors = b.scale(50_000, 2_000)
    notice = {
        "deposit": "受存款保险保护",
        "fund": "基金有风险，投资需谨慎",
        "insurance": "保险责任以合同为准",
    }
    for pid, kind, risk in (
        ("bench-dep", "deposit", "R1"),
        ("bench-fund-r3", "fund", "R3"),
        ("bench-fund-r5", "fund", "R5"),
        ("bench-ins", "insurance", "R1"),
    ):
        async with b.rt.sessionmaker() as db:
            await products.create(
                db,
                b.rt,
                ProductIn(
                    id=pid,
                    kind=kind,  # type: ignore[arg-type]
                    name=pid,
                    issuer="bench",
                    risk_level=risk,  # type: ignore[arg-type]
                    compliance_text=notice[kind],
                    link=f"https://bank.example/products/{pid}",
                ),
            )
    t_seed = time.perf_counter()
    reader = await seed_feed(b, n_posts=n_posts, n_authors=n_authors, topical=True)
    seed_s = time.perf_counter() - t_seed
    now = b.rt.clock.now()
    async with b.rt.sessionmaker() as db:
        await auth.set_bank_profile(db, user_id=reader.id, risk_profile="C3")
        await profile.set_consents(
            db, b.rt, user_id=reader.id, changes=[ConsentChange(scenario="content", granted=True)]
        )
        async with transaction(db):
            await profile.record(
                db,
                b.rt,
                [
                    profile.Evidence(
                        reader.id,
                        f"topic:{t}",
                        "content",
                        "read",
                        "you read {count} posts about {label}",
                        now,
                        w,
                    )
                    for t, w in (("funds", 5.0), ("insurance", 2.0), ("travel", 1.0))
                ],
            )
    clients = b.clients
    results: dict[str, Any] = {}
    for concurrency, total in ((1, b.scale(600, 150)), (10, b.scale(1000, 200))):

        async def op(i: int) -> None:
            r = await clients[i % len(clients)].get("/v1/feed?tab=for_you&limit=20", headers=reader.headers)
            r.raise_for_status()
            items = r.json()["items"]
            assert len(items) == 20 and all(x["reason"] for x in items)

        await measure(op, total=30, concurrency=concurrency)  # warm-up
        results[f"for_you@{concurrency}"] = await measure(op, total=total, concurrency=concurrency)
    return Result(
        stats=results["for_you@1"],
        baseline=await b.baseline(1),
        extra={
            "tab": "for_you",
            "concurrency": 1,
            "posts": n_posts,
            "authors": n_authors,
            "followed": 500,
            "candidates_per_source": b.rt.settings.content.for_you_candidates,
            "seed_s": round(seed_s, 1),
            "at_concurrency_10": results["for_you@10"].summary(),
            "target_p99_ms": 50,
        },
    )


def _terms(rng: random.Random, n: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choice(COMMON) for _ in range(rng.randint(3, 6))))
    return sorted(out)


async def post_create(b: Bench) -> Result:
    """POST /v1/posts with 5 000-character texts through a 10 000-term filter."""
    rng = random.Random(11)
    concurrency = 20
    people = await b.make_users(50)
    [mod] = await b.make_users(1)
    async with b.rt.sessionmaker() as db, db.begin():
        await db.execute(update(User).where(User.id == mod.id).values(roles="moderator,user"))
    terms = _terms(rng, 10_000)
    categories = {k: dict(v) for k, v in termfilter.DEFAULT_CONFIG.items()}
    categories["bench_terms"] = {"action": "review", "terms": terms}
    r = await b.client.put("/v1/moderation/terms", json={"categories": categories}, headers=mod.headers)
    r.raise_for_status()
    texts = ["".join(rng.choice(COMMON) for _ in range(5000)) for _ in range(20)]
    # The filter alone, in this process, for the record.
    f = termfilter.build(categories, ContentSettings().allowed_domains)
    t0 = time.perf_counter()
    held_local = sum(f.scan(t).action != "allow" for t in texts * 10)
    scan_ms = (time.perf_counter() - t0) * 1000 / (len(texts) * 10)
    total = b.scale(2000, 200)
    clients = b.clients
    statuses: dict[str, int] = {}

    async def op(i: int) -> None:
        p = people[i % len(people)]
        r = await clients[i % len(clients)].post(
            "/v1/posts", json={"kind": "post", "text": texts[i % len(texts)]}, headers=p.headers
        )
        r.raise_for_status()
        s = r.json()["status"]
        statuses[s] = statuses.get(s, 0) + 1

    await measure(op, total=40, concurrency=concurrency)  # warm-up (builds the filter on the server)
    statuses.clear()
    stats = await measure(op, total=total, concurrency=concurrency)
    return Result(
        stats=stats,
        baseline=await b.baseline(concurrency),
        extra={
            "terms": len(terms),
            "text_chars": 5000,
            "filter_scan_ms": round(scan_ms, 3),
            "held_by_filter_locally": held_local,
            "statuses": statuses,
        },
    )


SCENARIOS = {"feed": feed, "feed_for_you": feed_for_you, "post_create": post_create}
