"""Farm use cases: feed the chicken, eggs, visiting a friend's bowl, chasing, donating.

A farm row stores timestamps; ``games.rules.farm.bowl_state`` says what the bowl holds at
any instant. Writers lock the farm rows they change (``SELECT … FOR UPDATE``, in user-id
order when two farms are involved) and *rebase* the bowl to ``now``: what was eaten so far
is folded into egg progress (owner) or carried on the row (visitor), and the meal
restarts at ``now`` with what is left. Reads compute everything without writing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import service as auth
from app.db import after_commit, transaction
from app.errors import Conflict, InsufficientFunds, NotFound
from app.ids import new_id
from app.runtime import Runtime
from games.farm.models import Donation, EggLog, Farm
from games.leaderboards import scores
from games.rules import FarmRules, Project, rules
from games.rules import farm as farm_rules
from social.friends import service as friends


def _bowl(f: Farm, r: FarmRules, now: datetime) -> farm_rules.BowlState:
    return farm_rules.bowl_state(
        meal_at=f.meal_at,
        bowl_g=f.bowl_g,
        rate_g=r.meal_g,
        duration_s=int(r.meal_duration_h * 3600),
        visitor_from=f.visitor_from if f.visitor_id else None,
        visitor_until=f.visitor_until if f.visitor_id else None,
        now=now,
    )


def eggs_by_user(since: datetime | None) -> Select[tuple[str, int]]:
    """SQL: (user id, eggs laid) since ``since`` (None: ever); the eggs board's rebuild."""
    q = select(EggLog.user_id, func.sum(EggLog.eggs)).group_by(EggLog.user_id)
    return q if since is None else q.where(EggLog.laid_at >= since)


async def ensure_farms(db: AsyncSession, user_ids: list[str]) -> None:
    start = rules().farm.starting_feed_g
    ids = sorted(set(user_ids))
    if ids:
        await db.execute(
            insert(Farm).values([{"user_id": u, "feed_g": start} for u in ids]).on_conflict_do_nothing()
        )


async def add_feed(db: AsyncSession, rt: Runtime, *, user_id: str, grams: int) -> None:
    """Add feed to a farm (creating it); in the caller's transaction."""
    await ensure_farms(db, [user_id])
    await db.execute(update(Farm).where(Farm.user_id == user_id).values(feed_g=Farm.feed_g + grams))


async def add_feed_many(db: AsyncSession, rt: Runtime, *, grams_by_user: dict[str, int]) -> None:
    """Add feed to many farms at once (one UPDATE per distinct amount); in the caller's transaction."""
    await ensure_farms(db, list(grams_by_user))
    by_amount: dict[int, list[str]] = {}
    for uid, grams in grams_by_user.items():
        by_amount.setdefault(grams, []).append(uid)
    for grams, uids in sorted(by_amount.items()):
        await db.execute(
            update(Farm).where(col(Farm.user_id).in_(sorted(uids))).values(feed_g=Farm.feed_g + grams)
        )


async def _lock(db: AsyncSession, user_ids: list[str]) -> dict[str, Farm]:
    """Load and lock farms (FOR UPDATE) in user-id order."""
    await ensure_farms(db, user_ids)
    out: dict[str, Farm] = {}
    for uid in sorted(set(user_ids)):
        stmt = select(Farm).where(Farm.user_id == uid).with_for_update()
        row = (await db.execute(stmt.execution_options(populate_existing=True))).scalar_one()
        out[uid] = row
    return out


def _rebase(f: Farm, r: FarmRules, now: datetime) -> None:
    """Fold what was eaten up to ``now`` into the row; the meal restarts at ``now``."""
    if f.meal_at is None:
        return
    state = _bowl(f, r, now)
    f.egg_progress_g += state.owner_eaten_g
    if f.visitor_id:
        f.visitor_eaten_g += state.visitor_eaten_g
    f.bowl_g = state.left_g
    f.meal_at = now if state.left_g > 0 else None


def _lay(db: AsyncSession, rt: Runtime, f: Farm, r: FarmRules, now: datetime) -> None:
    laid, f.egg_progress_g = farm_rules.eggs_from(f.egg_progress_g, r.grams_per_egg)
    if laid:
        f.eggs += laid
        f.eggs_laid += laid
        db.add(EggLog(id=new_id("egg_"), user_id=f.user_id, eggs=laid, laid_at=now))
        uid = f.user_id
        after_commit(db, lambda: scores.add_score(rt, board="eggs", user_id=uid, delta=laid, at=now))


async def _end_visit(
    db: AsyncSession,
    rt: Runtime,
    host: Farm,
    visitor: Farm | None,
    r: FarmRules,
    now: datetime,
    *,
    chased: bool,
) -> int:
    """Close the visit at the host's bowl (host already rebased). Chased: the visitor's
    meal returns to the host's feed; else the visitor keeps it as egg progress."""
    eaten = host.visitor_eaten_g
    if chased:
        host.feed_g += eaten
    elif visitor is not None:
        visitor.egg_progress_g += eaten
        _lay(db, rt, visitor, r, now)
    if visitor is not None and visitor.away_host_id == host.user_id:
        visitor.away_host_id = None
    host.visitor_id = None
    host.visitor_from = host.visitor_until = None
    host.visitor_eaten_g = 0
    return eaten


async def _settle_if_over(
    db: AsyncSession, rt: Runtime, farms: dict[str, Farm], host: Farm, r: FarmRules, now: datetime
) -> None:
    """A visit whose window has passed ends: rebase at the window's end, the visitor keeps what it ate."""
    if host.visitor_id and host.visitor_until is not None and host.visitor_until <= now:
        _rebase(host, r, host.visitor_until if host.meal_at and host.visitor_until > host.meal_at else now)
        visitor = farms.get(host.visitor_id)
        if visitor is None:
            visitor = (await _lock(db, [host.visitor_id]))[host.visitor_id]
        await _end_visit(db, rt, host, visitor, r, now, chased=False)
        if host.meal_at is not None and host.meal_at < now:
            _rebase(host, r, now)


@dataclass
class _View:
    eggs: int
    progress: int
    state: farm_rules.BowlState


def _view(f: Farm, r: FarmRules, now: datetime, away_eaten: int) -> _View:
    state = _bowl(f, r, now)
    laid, progress = farm_rules.eggs_from(
        f.egg_progress_g + state.owner_eaten_g + away_eaten, r.grams_per_egg
    )
    return _View(eggs=f.eggs + laid, progress=progress, state=state)


@dataclass(frozen=True)
class Visitor:
    """A friend's chicken eating from my bowl."""

    user_id: str
    display_name: str
    badge: str | None
    since: datetime
    until: datetime
    eaten_g: int


@dataclass(frozen=True)
class Away:
    """My chicken eating from a friend's bowl."""

    host_id: str
    since: datetime
    until: datetime
    eaten_g: int


@dataclass(frozen=True)
class FarmView:
    feed_g: int
    bowl_g: int
    eating_until: datetime | None
    state: str  # hungry | eating
    eggs: int
    eggs_laid: int
    eggs_donated: int
    egg_progress_g: int
    thief: Visitor | None
    away: Away | None


async def get_farm(db: AsyncSession, rt: Runtime, *, user_id: str) -> FarmView:
    """My farm at this instant (computed from timestamps, nothing written)."""
    r = rules().farm
    now = rt.clock.now()
    f = await db.get(Farm, user_id) or Farm(user_id=user_id, feed_g=r.starting_feed_g)
    away: Away | None = None
    away_done = 0
    if f.away_host_id:
        host = await db.get(Farm, f.away_host_id)
        if host is not None and host.visitor_id == user_id and host.visitor_from and host.visitor_until:
            eaten = host.visitor_eaten_g + _bowl(host, r, now).visitor_eaten_g
            if host.visitor_until <= now:
                away_done = eaten
            else:
                away = Away(
                    host_id=host.user_id, since=host.visitor_from, until=host.visitor_until, eaten_g=eaten
                )
    view = _view(f, r, now, away_done)
    thief: Visitor | None = None
    if f.visitor_id and f.visitor_from and f.visitor_until and f.visitor_until > now:
        visitor = await auth.get_profile(db, f.visitor_id)
        thief = Visitor(
            user_id=f.visitor_id,
            display_name=visitor.display_name if visitor else "",
            badge=visitor.badge if visitor else None,
            since=f.visitor_from,
            until=f.visitor_until,
            eaten_g=f.visitor_eaten_g + view.state.visitor_eaten_g,
        )
    return FarmView(
        feed_g=f.feed_g,
        bowl_g=view.state.left_g,
        eating_until=view.state.empty_at if view.state.eating else None,
        state="eating" if view.state.eating else "hungry",
        eggs=view.eggs,
        eggs_laid=f.eggs_laid + (view.eggs - f.eggs),
        eggs_donated=f.eggs_donated,
        egg_progress_g=view.progress,
        thief=thief,
        away=away,
    )


@dataclass(frozen=True)
class Fed:
    feed_g: int  # left in the bag
    bowl_g: int
    eating_until: datetime | None


async def feed(db: AsyncSession, rt: Runtime, *, user_id: str) -> Fed:
    """Put a meal in the bowl. Locks my farm. Raises Conflict (still eating), InsufficientFunds (feed)."""
    r = rules().farm
    now = rt.clock.now()
    async with transaction(db):
        farms = await _lock(db, [user_id])
        f = farms[user_id]
        await _settle_if_over(db, rt, farms, f, r, now)
        _rebase(f, r, now)
        if f.bowl_g > 0:
            raise Conflict("the chicken is still eating", reason="eating")
        if f.feed_g < r.meal_g:
            raise InsufficientFunds("not enough feed", needed_g=r.meal_g, feed_g=f.feed_g)
        f.feed_g -= r.meal_g
        f.bowl_g = r.meal_g
        f.meal_at = now
        _lay(db, rt, f, r, now)
        await db.flush()
        state = _bowl(f, r, now)
    return Fed(feed_g=f.feed_g, bowl_g=state.left_g, eating_until=state.empty_at)


async def visit(db: AsyncSession, rt: Runtime, *, user_id: str, host_id: str) -> datetime:
    """Send my chicken to a friend's bowl for the visit window. Locks both farms.
    Returns when the visit ends. Raises NotFound (not a friend), Conflict (a chicken is
    there, or mine is away)."""
    r = rules().farm
    now = rt.clock.now()
    async with transaction(db):
        if host_id == user_id or not await friends.are_friends(db, user_id, host_id):
            raise NotFound("no such friend")
        farms = await _lock(db, [user_id, host_id])
        me, host = farms[user_id], farms[host_id]
        await _settle_if_over(db, rt, farms, host, r, now)
        if me.away_host_id and me.away_host_id != host_id:
            old = (await _lock(db, [me.away_host_id]))[me.away_host_id]
            farms[old.user_id] = old
            await _settle_if_over(db, rt, farms, old, r, now)
        if me.away_host_id:
            raise Conflict("your chicken is already visiting", reason="away", host_id=me.away_host_id)
        if host.visitor_id:
            raise Conflict("another chicken is at that bowl", reason="occupied")
        _rebase(host, r, now)
        host.visitor_id = user_id
        host.visitor_from = now
        host.visitor_until = now + timedelta(hours=r.visit_window_h)
        host.visitor_eaten_g = 0
        if host.meal_at is None and host.bowl_g > 0:
            host.meal_at = now
        me.away_host_id = host_id
        await db.flush()
        until = host.visitor_until
    return until


@dataclass(frozen=True)
class Chased:
    visitor_id: str
    returned_g: int  # what it ate, back in my bag
    feed_g: int


async def chase(db: AsyncSession, rt: Runtime, *, user_id: str) -> Chased:
    """Chase the visiting chicken away; what it ate goes back to my feed. Locks both farms.
    Raises Conflict (no visitor)."""
    r = rules().farm
    now = rt.clock.now()
    async with transaction(db):
        farms = await _lock(db, [user_id])
        host = farms[user_id]
        await _settle_if_over(db, rt, farms, host, r, now)
        if not host.visitor_id:
            raise Conflict("no chicken is visiting", reason="no_visitor")
        visitor_id = host.visitor_id
        farms.update(await _lock(db, [visitor_id]))
        host = farms[user_id]
        _rebase(host, r, now)
        returned = await _end_visit(db, rt, host, farms[visitor_id], r, now, chased=True)
        _lay(db, rt, host, r, now)
        await db.flush()
        feed_g = host.feed_g
    return Chased(visitor_id=visitor_id, returned_g=returned, feed_g=feed_g)


def list_projects() -> list[Project]:
    return list(rules().farm.projects)


async def donate(
    db: AsyncSession, rt: Runtime, *, user_id: str, eggs: int, project_id: str
) -> tuple[Donation, int]:
    """Donate eggs to a charity project; returns the donation and the eggs I have left.
    Locks my farm. Raises NotFound (project), InsufficientFunds (eggs)."""
    r = rules().farm
    if r.project_by_id(project_id) is None:
        raise NotFound("no such project")
    now = rt.clock.now()
    async with transaction(db):
        farms = await _lock(db, [user_id])
        f = farms[user_id]
        await _settle_if_over(db, rt, farms, f, r, now)
        _rebase(f, r, now)
        _lay(db, rt, f, r, now)
        if f.eggs < eggs:
            raise InsufficientFunds("not enough eggs", eggs=f.eggs)
        f.eggs -= eggs
        f.eggs_donated += eggs
        donation = Donation(
            id=new_id("d_"), user_id=user_id, project_id=project_id, eggs=eggs, donated_at=now
        )
        db.add(donation)
        await db.flush()
        left = f.eggs
    return donation, left


# -- a member's data (app/profile) --------------------------------------------------------


async def erase_personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """An erased member's farm goes: a visit their chicken pays a friend ends as if chased
    (what it ate goes back to the host's feed); a friend's chicken visiting them goes home
    with what it ate, as at the window's end; then their farm and egg log are deleted
    (they leave the eggs board). Donations stay, pseudonymised: the projects' totals count
    them. Locks the farms involved in user-id order."""
    r = rules().farm
    now = rt.clock.now()
    mine = await db.get(Farm, user_id)
    if mine is not None:
        involved = [user_id, *(u for u in (mine.away_host_id, mine.visitor_id) if u)]
        farms = await _lock(db, involved)
        me = farms[user_id]
        if me.away_host_id and me.away_host_id in farms:
            host = farms[me.away_host_id]
            if host.visitor_id == user_id:
                _rebase(host, r, now)
                await _end_visit(db, rt, host, me, r, now, chased=True)
                _lay(db, rt, host, r, now)
        if me.visitor_id and me.visitor_id in farms:
            _rebase(me, r, now)
            await _end_visit(db, rt, me, farms[me.visitor_id], r, now, chased=False)
        await db.flush()
        await db.delete(me)
    await db.execute(delete(EggLog).where(col(EggLog.user_id) == user_id))
    await db.flush()
