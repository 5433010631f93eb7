"""Audiences: 100 segments over many members, built, rebuilt, and kept current through
tag changes."""

from __future__ import annotations

import os
import random
import time
from typing import Any

from sqlalchemy import func, select, text

from app import features
from app.audiences import service as audiences
from app.audiences.models import AudienceMember
from app.audiences.schemas import AudienceCreate
from app.db import transaction
from app.profile import service as profile
from scripts.benchlib import Bench, Result, measure

SERIES, GENRES, SHOPPING = 50, 10, 20
REGIONS = ["shanghai", "beijing", "shenzhen", "chengdu"]


def segment_rule(k: int) -> dict[str, Any]:
    """100 segments of five shapes: a weighted tag, a tag and an attribute, an OR of two
    tags, a recent tag and NOT a region, two tags with a weight."""
    s, g, c = f"series:s{k % SERIES}", f"genre:g{k % GENRES}", f"shopping:c{k % SHOPPING}"
    return [
        {"kind": "tag", "tag": s, "min_weight": 1.0},
        {"kind": "and", "rules": [{"kind": "tag", "tag": g}, {"kind": "attribute", "name": "cardholder", "is": True}]},
        {"kind": "or", "rules": [{"kind": "tag", "tag": s}, {"kind": "tag", "tag": f"series:s{(k + 7) % SERIES}"}]},
        {"kind": "and", "rules": [
            {"kind": "tag", "tag": c, "within_days": 30},
            {"kind": "not", "rule": {"kind": "attribute", "name": "region", "in": [REGIONS[k % 4]]}},
        ]},
        {"kind": "and", "rules": [{"kind": "tag", "tag": g, "min_weight": 2.0}, {"kind": "tag", "tag": s}]},
    ][k % 5]  # fmt: skip


async def _seed(b: Bench, n: int) -> None:
    """``n`` members (ids ``ub00000001``…), each with three tags (a series, a genre, a
    shopping category), made in SQL: the point is the evaluation, not the sign-up."""
    now = b.rt.clock.now()
    uid = "'ub' || lpad(g::text, 8, '0')"
    async with b.rt.sessionmaker() as db, transaction(db):
        await db.execute(
            text(
                f"INSERT INTO users (id, phone_hash, phone_masked, display_name, roles, is_cardholder,"
                f" discoverable, region, language, created_at)"
                f" SELECT {uid}, md5('ub' || g), '+86 ***', 'b' || g, 'user', g % 3 <> 0, false,"
                f" (ARRAY{REGIONS!r})[1 + g % 4], 'zh', :now FROM generate_series(1, :n) g"
            ),
            {"n": n, "now": now},
        )
        for tag, source, action in (
            (f"'series:s' || ((g * 7) % {SERIES})", "video", "watched"),
            (f"'genre:g' || (g % {GENRES})", "video", "watched"),
            (f"'shopping:c' || ((g * 3) % {SHOPPING})", "shopping", "purchased"),
        ):
            await db.execute(
                text(
                    "INSERT INTO profile_tag_evidence (user_id, tag, source, action, count, weight, why,"
                    " updated_at, last_at)"
                    f" SELECT {uid}, {tag}, '{source}', '{action}', 1, 0.5 + (g % 7) * 0.5, 'x',"
                    " CAST(:now AS timestamptz) - make_interval(days => g % 45), CAST(:now AS timestamptz) - make_interval(days => g % 45)"
                    " FROM generate_series(1, :n) g"
                ),
                {"n": n, "now": now},
            )
        await db.execute(text("ANALYZE users"))
        await db.execute(text("ANALYZE profile_tag_evidence"))


async def audience_eval(b: Bench) -> Result:
    """100 segments over ``members`` members: the time to build them (one query each),
    to rebuild them all, and to keep them current through 10 000 tag changes (10 batches
    of 1 000 evidence records through ``app.profile``, re-evaluating only the changed
    members against the segments naming a changed tag). Checks that the incrementally
    kept membership equals a fresh evaluation."""
    features.import_models()  # the hooks: tag changes reach the audiences
    rt = b.rt
    # QUANZI_BENCH_AUDIENCE_MEMBERS: another size (the full 1 000 000 takes long on a small machine)
    n = int(os.environ.get("QUANZI_BENCH_AUDIENCE_MEMBERS") or b.scale(1_000_000, 20_000))
    t0 = time.perf_counter()
    await _seed(b, n)
    seed_s = time.perf_counter() - t0
    admin_id = "ub00000001"
    t0 = time.perf_counter()
    ids = []
    for k in range(100):
        async with rt.sessionmaker() as db:
            body = AudienceCreate.model_validate({"name": f"segment {k}", "rule": segment_rule(k)})
            ids.append((await audiences.create(db, rt, admin_id=admin_id, body=body)).id)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    await audiences.rebuild(rt)
    rebuild_s = time.perf_counter() - t0
    # 10 000 tag changes on 10 000 consented members
    changed = [f"ub{i:08d}" for i in random.Random(7).sample(range(1, n + 1), 10_000)]
    now = rt.clock.now()
    async with rt.sessionmaker() as db, transaction(db):
        await db.execute(
            text(
                "INSERT INTO profile_consents (user_id, scenario, granted, share_with_advisor, updated_at)"
                " SELECT u, 'video', true, false, CAST(:now AS timestamptz) FROM unnest(CAST(:ids AS text[])) u"
            ),
            {"ids": changed, "now": now},
        )
    rng = random.Random(11)
    batches = [
        [
            profile.Evidence(u, f"series:s{rng.randrange(SERIES)}", "video", "watched", "x", now, 2.0)
            for u in changed[i * 1000 : (i + 1) * 1000]
        ]
        for i in range(10)
    ]

    unnamed = [
        [
            profile.Evidence(e.user_id, "series:unnamed", *rest)
            for e in batch
            for rest in [(e.source, e.action, e.why, e.at, e.weight)]
        ]
        for batch in batches
    ]

    async def op(i: int) -> None:
        async with rt.sessionmaker() as db, transaction(db):
            await profile.record(db, rt, batches[i])

    async def baseline_op(i: int) -> None:  # the same changes on a tag no segment names
        async with rt.sessionmaker() as db, transaction(db):
            await profile.record(db, rt, unnamed[i])

    baseline = await measure(baseline_op, total=10, concurrency=2)
    stats = await measure(op, total=10, concurrency=2)
    # the stored membership equals a fresh evaluation, for every segment
    mismatched = 0
    async with rt.sessionmaker() as db:
        stored = dict(
            (
                await db.execute(
                    select(AudienceMember.segment_id, func.count()).group_by(AudienceMember.segment_id)
                )
            ).all()
        )
        for sid in ids[:20]:
            fresh = await audiences.preview(
                db, rt, rule=audiences.parse((await audiences.get(db, segment_id=sid)).rule)
            )
            mismatched += fresh.size != stored.get(sid, 0)
    return Result(
        stats=stats,
        extra={
            "members": n,
            "segments": len(ids),
            "seed_s": round(seed_s, 1),
            "build_100_segments_s": round(build_s, 2),
            "rebuild_100_segments_s": round(rebuild_s, 2),
            "tag_changes": 10_000,
            "incremental_10k_changes_s": round(stats.seconds, 2),
            "same_changes_on_a_tag_no_segment_names_s": round(baseline.seconds, 2),
            "stored_memberships": sum(stored.values()),
            "segments_checked": 20,
            "segments_mismatched": mismatched,
        },
    )


SCENARIOS = {"audience_eval": audience_eval}
