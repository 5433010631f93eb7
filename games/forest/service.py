"""Forest use cases: balls, collecting (owner and friends), watering, protection, planting, groves.

Energy is conserved (DESIGN invariant 4): a ball's collections sum to amount_g − remaining_g;
an account's energy_g = collected_g − spent_g ≥ 0. Every change of a ball or an account is
a conditional UPDATE evaluated in the database, so concurrent collectors on PostgreSQL
queue on the row lock and re-check the condition on the row as the previous one left it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import hooks
from app.auth import service as auth
from app.db import after_commit, is_unique_violation, transaction
from app.errors import (
    AlreadyClaimed,
    Conflict,
    Expired,
    InsufficientFunds,
    LimitExceeded,
    NotFound,
    SoldOut,
    ValidationFailed,
)
from app.ids import new_id
from app.metrics import ENERGY_COLLECTED, count_after_commit
from app.notifications.service import notify
from app.profile import service as profile
from app.runtime import Runtime
from games.forest.models import (
    BallCollection,
    EnergyBall,
    ForestAccount,
    Grove,
    GroveContribution,
    Tree,
    Watering,
)
from games.leaderboards import scores
from games.rules import Rules, Species, rules
from games.rules import energy as energy_rules
from games.rules import forest as forest_rules
from social.friends import service as friends

# ---------------------------------------------------------------- helpers (flush, never commit)

WHY_COLLECTED = "you collected energy in the forest {count} times"  # game activity, for the profile


async def ensure_accounts(db: AsyncSession, user_ids: Iterable[str]) -> None:
    ids = sorted(set(user_ids))
    if ids:
        await db.execute(
            insert(ForestAccount)
            .values([{"user_id": u, "energy_g": 0} for u in ids])
            .on_conflict_do_nothing()
        )


async def credit(db: AsyncSession, *, user_id: str, grams: int) -> int:
    """Add collected energy to an account; returns the new energy_g."""
    await ensure_accounts(db, [user_id])
    result = await db.execute(
        update(ForestAccount)
        .where(ForestAccount.user_id == user_id)
        .values(energy_g=ForestAccount.energy_g + grams, collected_g=ForestAccount.collected_g + grams)
        .returning(ForestAccount.energy_g)
    )
    return int(result.scalar_one())


async def debit(db: AsyncSession, *, user_id: str, grams: int) -> int:
    """Spend energy actually held (conditional UPDATE). Raises InsufficientFunds."""
    await ensure_accounts(db, [user_id])
    result = await db.execute(
        update(ForestAccount)
        .where(ForestAccount.user_id == user_id, ForestAccount.energy_g >= grams)
        .values(energy_g=ForestAccount.energy_g - grams, spent_g=ForestAccount.spent_g + grams)
        .returning(ForestAccount.energy_g)
    )
    left = result.scalar_one_or_none()
    if left is None:
        raise InsufficientFunds("not enough energy", needed_g=grams)
    return int(left)


@dataclass(frozen=True)
class NewBall:
    owner_id: str
    source: str
    source_ref: str
    amount_g: int
    action_at: datetime


def ball_row(
    r: Rules, b: NewBall, *, now: datetime, ripen_after_h: float | None = None, share_pct: int | None = None
) -> dict[str, object]:
    """A ball's row with the amounts and times of the rules in force (stored on the ball)."""
    ripe_at, expires_at = energy_rules.ball_life(r.energy, b.action_at, ripen_after_h=ripen_after_h)
    return {
        "id": new_id("eb_"),
        "owner_id": b.owner_id,
        "source": b.source,
        "source_ref": b.source_ref,
        "amount_g": b.amount_g,
        "remaining_g": b.amount_g,
        "friends_taken_g": 0,
        "share_pct": r.forest.friends_share_pct if share_pct is None else share_pct,
        "take_pct": r.forest.friend_take_pct,
        "last_take_g": 0,
        "rules_version": r.version,
        "created_at": now,
        "ripe_at": ripe_at,
        "expires_at": expires_at,
    }


async def add_balls(db: AsyncSession, rows: list[dict[str, object]]) -> None:
    """Insert balls; a ball whose (owner, source_ref) exists already is skipped."""
    if rows:
        await db.execute(insert(EnergyBall).values(rows).on_conflict_do_nothing())


async def grow_ball(
    db: AsyncSession, *, owner_id: str, source_ref: str, amount_g: int, now: datetime
) -> None:
    """Raise the (owner, source_ref) ball to ``amount_g``: only up, and only before it is ripe."""
    await db.execute(
        update(EnergyBall)
        .where(
            EnergyBall.owner_id == owner_id,
            EnergyBall.source_ref == source_ref,
            EnergyBall.amount_g < amount_g,
            EnergyBall.ripe_at > now,
        )
        .values(remaining_g=EnergyBall.remaining_g + (amount_g - EnergyBall.amount_g), amount_g=amount_g)
    )


async def ball_by_ref(db: AsyncSession, *, owner_id: str, source_ref: str) -> tuple[str, int] | None:
    """(id, amount_g) of the owner's ball made for ``source_ref``, if any."""
    row = (
        await db.execute(
            select(EnergyBall.id, EnergyBall.amount_g).where(
                EnergyBall.owner_id == owner_id, EnergyBall.source_ref == source_ref
            )
        )
    ).first()
    return (str(row[0]), int(row[1])) if row is not None else None


def day_start(rt: Runtime, at: datetime) -> datetime:
    local = rt.clock.local(at)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def collected_by_user(since: datetime | None) -> Select[tuple[str, int]]:
    """SQL: (collector id, grams collected) since ``since`` (None: ever); the energy board's rebuild."""
    q = select(BallCollection.collector_id, func.sum(BallCollection.grams)).group_by(
        BallCollection.collector_id
    )
    return q if since is None else q.where(BallCollection.collected_at >= since)


async def _collected_since(db: AsyncSession, user_id: str, since: datetime) -> int:
    total = await db.scalar(
        select(func.coalesce(func.sum(BallCollection.grams), 0)).where(
            BallCollection.collector_id == user_id, BallCollection.collected_at >= since
        )
    )
    return int(total or 0)


# ---------------------------------------------------------------- reads


async def get_account(db: AsyncSession, user_id: str) -> ForestAccount | None:
    return await db.get(ForestAccount, user_id)


@dataclass(frozen=True)
class LiveBall:
    ball: EnergyBall
    state: str  # growing | ripe (``energy_rules.ball_state``)


@dataclass(frozen=True)
class Forest:
    user_id: str
    energy_g: int
    today_g: int  # collected today, in the bank's zone
    balls: list[LiveBall]
    protected_until: datetime | None
    planted: list[Tree]
    rules_version: str


async def get_forest(db: AsyncSession, rt: Runtime, *, user_id: str) -> Forest:
    """My forest: energy held, live balls (growing and ripe), protection, trees planted."""
    now = rt.clock.now()
    account = await db.get(ForestAccount, user_id)
    balls = (
        await db.execute(
            select(EnergyBall)
            .where(EnergyBall.owner_id == user_id, EnergyBall.expires_at > now, EnergyBall.remaining_g > 0)
            .order_by(EnergyBall.ripe_at, EnergyBall.id)
        )
    ).scalars()
    trees = (
        await db.execute(select(Tree).where(Tree.owner_id == user_id).order_by(Tree.planted_at, Tree.id))
    ).scalars()
    protected = (
        account.protected_until
        if account and account.protected_until and account.protected_until > now
        else None
    )
    return Forest(
        user_id=user_id,
        energy_g=account.energy_g if account else 0,
        today_g=await _collected_since(db, user_id, day_start(rt, now)),
        balls=[
            LiveBall(b, energy_rules.ball_state(b.ripe_at, b.expires_at, b.remaining_g, now)) for b in balls
        ],
        protected_until=protected,
        planted=list(trees),
        rules_version=rules().version,
    )


@dataclass(frozen=True)
class FriendForest:
    user_id: str
    display_name: str
    badge: str | None
    collectable_g: int  # what I could collect from their ripe balls right now
    energy_g: int
    collected_g: int
    trees: int
    protected_until: datetime | None


async def list_friends(db: AsyncSession, rt: Runtime, *, user_id: str) -> list[FriendForest]:
    """My friends with what I could collect from each right now and their energy totals."""
    now = rt.clock.now()
    ids = await friends.friend_ids(db, user_id)
    if not ids:
        return []
    people = await auth.profiles(db, ids)
    accounts = {
        a.user_id: a
        for a in (
            await db.execute(select(ForestAccount).where(col(ForestAccount.user_id).in_(ids)))
        ).scalars()
    }
    balls = list(
        (
            await db.execute(
                select(EnergyBall).where(
                    col(EnergyBall.owner_id).in_(ids),
                    EnergyBall.ripe_at <= now,
                    EnergyBall.expires_at > now,
                    EnergyBall.remaining_g > 0,
                )
            )
        ).scalars()
    )
    mine: set[str] = set()
    if balls:
        mine = set(
            (
                await db.execute(
                    select(BallCollection.ball_id).where(
                        BallCollection.collector_id == user_id,
                        col(BallCollection.ball_id).in_([b.id for b in balls]),
                    )
                )
            ).scalars()
        )
    tree_counts: dict[str, int] = dict(
        (
            await db.execute(
                select(Tree.owner_id, func.count()).where(col(Tree.owner_id).in_(ids)).group_by(Tree.owner_id)
            )
        ).all()  # type: ignore[arg-type,attr-defined]
    )
    collectable: dict[str, int] = {}
    for b in balls:
        if b.id in mine:
            continue
        collectable[b.owner_id] = collectable.get(b.owner_id, 0) + forest_rules.friend_take(
            amount_g=b.amount_g,
            remaining_g=b.remaining_g,
            friends_taken_g=b.friends_taken_g,
            share_pct=b.share_pct,
            take_pct=b.take_pct,
        )
    items = []
    for fid in ids:
        if fid not in people:
            continue
        acc = accounts.get(fid)
        protected = acc.protected_until if acc and acc.protected_until and acc.protected_until > now else None
        items.append(
            FriendForest(
                user_id=fid,
                display_name=people[fid].display_name,
                badge=people[fid].badge,
                collectable_g=0 if protected else collectable.get(fid, 0),
                energy_g=acc.energy_g if acc else 0,
                collected_g=acc.collected_g if acc else 0,
                trees=int(tree_counts.get(fid, 0)),
                protected_until=protected,
            )
        )
    items.sort(key=lambda f: (-f.collectable_g, f.display_name, f.user_id))
    return items


@dataclass(frozen=True)
class FriendBall:
    """One of a friend's live balls as I see it: what I could take from it right now."""

    ball: EnergyBall
    state: str  # growing | ripe
    can_take_g: int  # 0 while growing, protected, taken by me, or the friends' share is gone
    collected_by_me: bool


@dataclass(frozen=True)
class FriendForestView:
    user_id: str
    display_name: str
    energy_g: int
    trees: int
    protected_until: datetime | None
    balls: list[FriendBall]

    @property
    def collectable_g(self) -> int:
        return sum(b.can_take_g for b in self.balls)


async def friend_forest(db: AsyncSession, rt: Runtime, *, user_id: str, friend_id: str) -> FriendForestView:
    """A friend's forest as I see it: their live balls with what I may take from each (the
    rules of ``collect``), their protection. Raises NotFound (no such user, or not my
    friend: as ``collect`` does, a stranger's forest does not show it exists)."""
    if not await friends.are_friends(db, user_id, friend_id):
        raise NotFound("no such friend", user_id=friend_id)
    people = await auth.profiles(db, [friend_id])
    if friend_id not in people:
        raise NotFound("no such friend", user_id=friend_id)
    now = rt.clock.now()
    forest = await get_forest(db, rt, user_id=friend_id)
    ids = [b.ball.id for b in forest.balls]
    mine = (
        set(
            (
                await db.execute(
                    select(BallCollection.ball_id).where(
                        BallCollection.collector_id == user_id, col(BallCollection.ball_id).in_(ids)
                    )
                )
            ).scalars()
        )
        if ids
        else set()
    )
    protected = forest.protected_until is not None and forest.protected_until > now
    balls = []
    for live in forest.balls:
        b = live.ball
        take = forest_rules.friend_take(
            amount_g=b.amount_g,
            remaining_g=b.remaining_g,
            friends_taken_g=b.friends_taken_g,
            share_pct=b.share_pct,
            take_pct=b.take_pct,
        )
        may = live.state == "ripe" and not protected and b.id not in mine
        balls.append(FriendBall(b, live.state, take if may else 0, b.id in mine))
    return FriendForestView(
        user_id=friend_id,
        display_name=people[friend_id].display_name,
        energy_g=forest.energy_g,
        trees=len(forest.planted),
        protected_until=forest.protected_until,
        balls=balls,
    )


def list_species() -> list[Species]:
    return list(rules().forest.species)


async def access_tree(db: AsyncSession, *, user_id: str, tree_id: str) -> Tree:
    """The tree if it is mine. Raises NotFound (also for another user's tree)."""
    tree = await db.get(Tree, tree_id)
    if tree is None or tree.owner_id != user_id:
        raise NotFound("no such tree")
    return tree


# ---------------------------------------------------------------- collecting


@dataclass(frozen=True)
class Collected:
    collected_g: int
    ball_id: str
    energy_g: int  # mine after collecting


async def collect(db: AsyncSession, rt: Runtime, *, ball_id: str, user_id: str) -> Collected:
    """Collect a ripe ball: the owner takes the rest, a friend their take once, within the
    friends' share. Conditional UPDATE on the ball row (the row lock serialises collectors).
    Raises NotFound (no ball, or not a friend), Conflict (not ripe, protected), Expired,
    AlreadyClaimed (this friend already collected), SoldOut (nothing left for friends)."""
    now = rt.clock.now()
    try:
        async with transaction(db):
            ball = await db.get(EnergyBall, ball_id)
            if ball is None:
                raise NotFound("no such energy ball")
            owner_id = ball.owner_id
            is_owner = owner_id == user_id
            if not is_owner and not await friends.are_friends(db, owner_id, user_id):
                raise NotFound("no such energy ball")
            if now < ball.ripe_at:
                raise Conflict(
                    "the ball is not ripe yet", reason="not_ripe", ripe_at=ball.ripe_at.isoformat()
                )
            if now >= ball.expires_at:
                raise Expired("the ball has expired")
            where = [
                EnergyBall.id == ball_id,
                EnergyBall.ripe_at <= now,
                EnergyBall.expires_at > now,
                EnergyBall.remaining_g > 0,
            ]
            if is_owner:
                stmt = (
                    update(EnergyBall).where(*where).values(last_take_g=EnergyBall.remaining_g, remaining_g=0)
                )
            else:
                account = await db.get(ForestAccount, owner_id)
                if account and account.protected_until and account.protected_until > now:
                    raise Conflict("this forest is protected", reason="protected")
                cap_left = EnergyBall.amount_g * EnergyBall.share_pct // 100 - EnergyBall.friends_taken_g
                per_friend = func.greatest(EnergyBall.amount_g * EnergyBall.take_pct // 100, 1)
                take = func.least(per_friend, cap_left, EnergyBall.remaining_g)
                stmt = (
                    update(EnergyBall)
                    .where(*where, cap_left > 0)
                    .values(
                        last_take_g=take,
                        remaining_g=EnergyBall.remaining_g - take,
                        friends_taken_g=EnergyBall.friends_taken_g + take,
                    )
                )
            taken = (await db.execute(stmt.returning(EnergyBall.last_take_g))).scalar_one_or_none()
            if not taken:
                if is_owner:
                    raise AlreadyClaimed("already collected")
                raise SoldOut("friends have taken their share of this ball")
            db.add(
                BallCollection(
                    id=new_id("bc_"),
                    ball_id=ball_id,
                    owner_id=owner_id,
                    collector_id=user_id,
                    grams=taken,
                    collected_at=now,
                )
            )
            await db.flush()
            energy_g = await credit(db, user_id=user_id, grams=taken)
            await profile.record(
                db, rt, [profile.Evidence(user_id, "game:forest", "games", "collected", WHY_COLLECTED, now)]
            )
            if not is_owner:
                await notify(
                    db,
                    rt,
                    user_id=owner_id,
                    kind="energy_stolen",
                    data={"friend_id": user_id, "ball_id": ball_id, "grams": taken},
                )
            after_commit(
                db, lambda: scores.add_score(rt, board="energy", user_id=user_id, delta=taken, at=now)
            )
            count_after_commit(db, ENERGY_COLLECTED, taken)
    except IntegrityError as exc:
        if is_unique_violation(exc, "uq_ball_collections_ball_id_collector_id"):
            raise AlreadyClaimed("you already collected from this ball") from exc
        raise
    return Collected(collected_g=taken, ball_id=ball_id, energy_g=energy_g)


# ---------------------------------------------------------------- watering and protection


@dataclass(frozen=True)
class Watered:
    ball_id: str  # the ball my friend collects
    grams: int
    energy_g: int  # mine left
    remaining_today: int  # waterings of this friend left today


async def water(db: AsyncSession, rt: Runtime, *, user_id: str, friend_id: str, grams: int) -> Watered:
    """Give a friend energy from mine, as a ball they collect. Raises ValidationFailed (amount),
    NotFound (not a friend), LimitExceeded (daily limit per friend), InsufficientFunds."""
    r = rules()
    if grams not in r.forest.watering_grams:
        raise ValidationFailed("grams must be one of the watering amounts", allowed=r.forest.watering_grams)
    now = rt.clock.now()
    day = rt.clock.local(now).date().isoformat()
    limit = r.forest.watering_per_friend_per_day
    try:
        async with transaction(db):
            if friend_id == user_id or not await friends.are_friends(db, user_id, friend_id):
                raise NotFound("no such friend")
            done = int(
                await db.scalar(
                    select(func.count())
                    .select_from(Watering)
                    .where(Watering.from_id == user_id, Watering.to_id == friend_id, Watering.day == day)
                )
                or 0
            )
            if done >= limit:
                raise LimitExceeded("watered this friend enough today", limit=limit)
            left = await debit(db, user_id=user_id, grams=grams)
            wid = new_id("w_")
            row = ball_row(
                r,
                NewBall(
                    owner_id=friend_id,
                    source="water",
                    source_ref=f"water:{wid}",
                    amount_g=grams,
                    action_at=now,
                ),
                now=now,
                ripen_after_h=r.forest.watering_ripen_after_h,
                share_pct=0,
            )
            await add_balls(db, [row])
            db.add(
                Watering(
                    id=wid,
                    from_id=user_id,
                    to_id=friend_id,
                    day=day,
                    n=done + 1,
                    grams=grams,
                    ball_id=str(row["id"]),
                    watered_at=now,
                )
            )
            await db.flush()
            await notify(
                db,
                rt,
                user_id=friend_id,
                kind="watered",
                data={"friend_id": user_id, "grams": grams, "ball_id": row["id"]},
            )
    except IntegrityError as exc:
        if is_unique_violation(exc, "uq_forest_waterings_from_id_to_id_day_n"):
            raise LimitExceeded("watered this friend enough today", limit=limit) from exc
        raise
    return Watered(ball_id=str(row["id"]), grams=grams, energy_g=left, remaining_today=limit - done - 1)


async def protect(db: AsyncSession, rt: Runtime, *, user_id: str) -> datetime:
    """Use a protection card: friends cannot collect for the configured hours. Raises Conflict (already protected)."""
    now = rt.clock.now()
    until = now + timedelta(hours=rules().forest.protection_h)
    async with transaction(db):
        await ensure_accounts(db, [user_id])
        result = await db.execute(
            update(ForestAccount)
            .where(
                ForestAccount.user_id == user_id,
                (ForestAccount.protected_until.is_(None)) | (ForestAccount.protected_until <= now),  # type: ignore[union-attr,operator]
            )
            .values(protected_until=until)
            .returning(ForestAccount.protected_until)
        )
        if result.scalar_one_or_none() is None:
            raise Conflict("already protected", reason="protected")
    return until


# ---------------------------------------------------------------- planting


def _species(species_id: str) -> Species:
    species = rules().forest.species_by_id(species_id)
    if species is None:
        raise NotFound("no such species")
    return species


@dataclass(frozen=True)
class Planted:
    tree: Tree
    energy_g: int  # mine left


async def plant(db: AsyncSession, rt: Runtime, *, user_id: str, species_id: str) -> Planted:
    """Spend energy held on a tree. Raises NotFound (species), InsufficientFunds."""
    species = _species(species_id)
    now = rt.clock.now()
    async with transaction(db):
        left = await debit(db, user_id=user_id, grams=species.cost_g)
        tree = await _make_tree(db, rt, owner_id=user_id, species_id=species_id, now=now, grove_id=None)
    return Planted(tree=tree, energy_g=left)


async def _make_tree(
    db: AsyncSession, rt: Runtime, *, owner_id: str, species_id: str, now: datetime, grove_id: str | None
) -> Tree:
    species = _species(species_id)
    tree = Tree(
        id=new_id("t_"),
        owner_id=owner_id,
        species_id=species.id,
        species_name=species.name,
        region=species.region,
        cost_g=species.cost_g,
        grove_id=grove_id,
        rules_version=rules().version,
        planted_at=now,
    )
    db.add(tree)
    await db.flush()
    await notify(
        db,
        rt,
        user_id=owner_id,
        kind="tree_planted",
        data={"tree_id": tree.id, "species_id": species.id, "certificate_url": tree.certificate_url},
    )
    await hooks.fire_milestone(db, rt, hooks.Milestone(user_id=owner_id, kind="tree_planted", ref=tree.id))
    return tree


async def create_grove(db: AsyncSession, rt: Runtime, *, user_id: str, species_id: str) -> Grove:
    """Start co-planting a species with friends. Raises NotFound (species)."""
    species = _species(species_id)
    async with transaction(db):
        grove = Grove(
            id=new_id("g_"),
            creator_id=user_id,
            species_id=species.id,
            cost_g=species.cost_g,
            created_at=rt.clock.now(),
        )
        db.add(grove)
        await db.flush()
    return grove


async def access_grove(db: AsyncSession, *, user_id: str, grove_id: str) -> Grove:
    """The grove if I started it or am the starter's friend. Raises NotFound."""
    grove = await db.get(Grove, grove_id)
    if grove is None or (
        grove.creator_id != user_id and not await friends.are_friends(db, grove.creator_id, user_id)
    ):
        raise NotFound("no such grove")
    return grove


async def contribute(
    db: AsyncSession, rt: Runtime, *, user_id: str, grove_id: str, grams: int
) -> tuple[Grove, int]:
    """Give energy to a grove, at most what it still needs (conditional UPDATE on the grove
    row); the contribution that meets the cost plants the tree for the grove's starter.
    Returns the grove and the grams given. Raises NotFound, SoldOut (already complete),
    InsufficientFunds."""
    now = rt.clock.now()
    async with transaction(db):
        grove = await access_grove(db, user_id=user_id, grove_id=grove_id)
        take = func.least(Grove.cost_g - Grove.raised_g, grams)
        taken = (
            await db.execute(
                update(Grove)
                .where(Grove.id == grove_id, Grove.raised_g < Grove.cost_g)
                .values(last_take_g=take, raised_g=Grove.raised_g + take)
                .returning(Grove.last_take_g, Grove.raised_g, Grove.cost_g)
            )
        ).one_or_none()
        if taken is None:
            raise SoldOut("this grove is complete")
        given, raised, cost = int(taken[0]), int(taken[1]), int(taken[2])
        await debit(db, user_id=user_id, grams=given)
        db.add(
            GroveContribution(
                id=new_id("gc_"), grove_id=grove_id, user_id=user_id, grams=given, contributed_at=now
            )
        )
        if raised >= cost:
            tree = await _make_tree(
                db, rt, owner_id=grove.creator_id, species_id=grove.species_id, now=now, grove_id=grove_id
            )
            await db.execute(
                update(Grove).where(Grove.id == grove_id).values(tree_id=tree.id, completed_at=now)
            )
        await db.flush()
        await db.refresh(grove)
    return grove, given


# ---------------------------------------------------------------- pictures' state


async def widget_state(db: AsyncSession, rt: Runtime, *, user_id: str, scale: int = 1, theme: str = "light"):  # type: ignore[no-untyped-def]
    """What the widget shows, as a frozen state (the picture's cache key): ripe balls'
    grams, ripening balls' grams and hours left, the tree's stage; size and theme."""
    from games.forest.images import WidgetState

    r = rules().forest
    now = rt.clock.now()
    forest = await get_forest(db, rt, user_id=user_id)
    me = await auth.get_profile(db, user_id)
    name = me.display_name if me else ""
    target = r.species[0]
    stage = forest_rules.tree_stage(forest.energy_g, target.cost_g, len(r.stages))
    return WidgetState(
        display_name=name,
        trees_planted=len(forest.planted),
        energy_g=forest.energy_g,
        today_g=forest.today_g,
        next_species=target.name,
        next_cost_g=target.cost_g,
        stage=stage,
        stage_name=r.stages[stage],
        stages=len(r.stages),
        ripe_g=tuple(b.ball.remaining_g for b in forest.balls if b.state == "ripe")[:6],
        ripening=tuple(
            (b.ball.remaining_g, max(1, -(-int((b.ball.ripe_at - now).total_seconds()) // 3600)))
            for b in forest.balls
            if b.state != "ripe"
        )[:6],
        scale=scale,
        theme=theme,
    )


async def certificate_state(db: AsyncSession, rt: Runtime, *, user_id: str, tree_id: str):  # type: ignore[no-untyped-def]
    """A tree's certificate as a frozen state. Raises NotFound (not my tree)."""
    from games.forest.images import CertificateState

    tree = await access_tree(db, user_id=user_id, tree_id=tree_id)
    owner = await auth.get_profile(db, tree.owner_id)
    name = owner.display_name if owner else ""
    return CertificateState(
        tree_id=tree.id,
        owner_name=name,
        species_name=tree.species_name,
        region=tree.region,
        cost_g=tree.cost_g,
        planted_on=rt.clock.local(tree.planted_at).date().isoformat(),
    )


async def recent_activity(db: AsyncSession, *, user_id: str, limit: int = 10) -> list[dict[str, object]]:
    """A player's latest collections and plantings, newest first: ``{at, kind, grams, detail}``."""
    collected = (
        await db.execute(
            select(BallCollection.collected_at, BallCollection.grams, BallCollection.owner_id)
            .where(BallCollection.collector_id == user_id)
            .order_by(col(BallCollection.collected_at).desc())
            .limit(limit)
        )
    ).all()
    planted = (
        await db.execute(
            select(Tree.planted_at, Tree.cost_g, Tree.species_name)
            .where(Tree.owner_id == user_id)
            .order_by(col(Tree.planted_at).desc())
            .limit(limit)
        )
    ).all()
    events: list[dict[str, object]] = [
        {
            "at": at,
            "kind": "collected" if owner == user_id else "collected_from_friend",
            "grams": g,
            "detail": None,
        }
        for at, g, owner in collected
    ]
    events += [{"at": at, "kind": "planted", "grams": g, "detail": name} for at, g, name in planted]
    events.sort(key=lambda e: e["at"], reverse=True)  # type: ignore[arg-type,return-value]
    return events[:limit]


# ---------------------------------------------------------------- a member's data (app/profile)


async def erase_personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """An erased member's forest goes: the energy they held (their account), what is left
    in their balls (they expire now: nothing more to collect; what friends took stays
    theirs, and each ball's collections still add up), and the trees they planted alone. A grove they started and that is not complete can be reached
    by nobody any more: each friend's contribution goes back to that friend's energy, then
    the grove goes. Completed groves' trees, their contributions to friends' groves and
    the waterings between friends stay, pseudonymised. Locks those groves, then the
    contributors' accounts in user-id order."""
    now = rt.clock.now()
    groves = list(
        (
            await db.execute(
                select(Grove.id)
                .where(col(Grove.creator_id) == user_id, col(Grove.completed_at).is_(None))
                .order_by(col(Grove.id))
                .with_for_update()
            )
        ).scalars()
    )
    if groves:
        given = (
            await db.execute(
                select(GroveContribution.user_id, func.sum(GroveContribution.grams))
                .where(col(GroveContribution.grove_id).in_(groves), col(GroveContribution.user_id) != user_id)
                .group_by(col(GroveContribution.user_id))
                .order_by(col(GroveContribution.user_id))
            )
        ).all()
        for contributor, grams in given:  # the debit undone: held again, not spent
            await db.execute(
                update(ForestAccount)
                .where(col(ForestAccount.user_id) == contributor)
                .values(energy_g=ForestAccount.energy_g + grams, spent_g=ForestAccount.spent_g - grams)
            )
        await db.execute(delete(GroveContribution).where(col(GroveContribution.grove_id).in_(groves)))
        await db.execute(delete(Grove).where(col(Grove.id).in_(groves)))
    await db.execute(
        update(EnergyBall)
        .where(col(EnergyBall.owner_id) == user_id, col(EnergyBall.expires_at) > now)
        .values(expires_at=now)
    )
    await db.execute(delete(Tree).where(col(Tree.owner_id) == user_id, col(Tree.grove_id).is_(None)))
    await db.execute(delete(ForestAccount).where(col(ForestAccount.user_id) == user_id))
