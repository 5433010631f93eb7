"""A synthetic population for "users like you" (the demo, the tests and the
``insights_job`` bench), made in SQL.

``populate`` writes members straight into the database with set-based statements (one per
table): skewed on purpose, 70 % in one cell and the rest spread thinly over every cell of
the grid, so most cells are far below k and must be merged; a wallet with an opening
top-up before the window and one top-up and one payment inside it (balanced against the
bank's settlement account); two card-spending events; consents to the wallet (3 in 4),
card (4 in 5) and investments (1 in 2); an allocation for every third member.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_STATEMENTS = (
    """INSERT INTO ledger_accounts (id, kind, owner_id, currency, balance_fen, tracks_balance, created_at)
       VALUES ('system:settlement', 'settlement', NULL, 'CNY', 0, false, :now) ON CONFLICT DO NOTHING""",
    """INSERT INTO users (id, phone_hash, phone_masked, display_name, roles, is_cardholder, discoverable,
                          language, risk_profile, created_at)
       SELECT :p || i, md5(:p || i), '+86 171****0000', 'member ' || i, 'user', true, false, 'zh',
              'C' || (CASE WHEN i % 10 < 7 THEN 3 ELSE 1 + (i * 7) % 5 END), :now
       FROM generate_series(CAST(1 AS bigint), CAST(:n AS bigint)) AS i""",
    """INSERT INTO member_attributes (user_id, birth_year, assets_fen, allocation, updated_at)
       SELECT :p || i,
              CASE WHEN i % 10 < 7 THEN :year - 30 ELSE :year - 18 - (i * 7919) % 62 END,
              CASE WHEN i % 10 < 7 THEN 10000000 ELSE ((i::bigint * 104729) % 8000000) * 100 END,
              CASE WHEN i % 3 = 0 THEN json_build_object('deposits', (i * 31) % 10001,
                                                         'funds', 10000 - (i * 31) % 10001) END,
              :now
       FROM generate_series(CAST(1 AS bigint), CAST(:n AS bigint)) AS i""",
    """INSERT INTO profile_consents (user_id, scenario, granted, share_with_advisor, updated_at)
       SELECT :p || i, s, true, false, :now
       FROM generate_series(CAST(1 AS bigint), CAST(:n AS bigint)) AS i
       CROSS JOIN unnest(ARRAY['wallet', 'card', 'investments']) AS s
       WHERE (s = 'wallet' AND i % 4 <> 0) OR (s = 'card' AND i % 5 <> 0) OR (s = 'investments' AND i % 2 = 0)""",
    """INSERT INTO ledger_accounts (id, kind, owner_id, currency, balance_fen, tracks_balance, created_at)
       SELECT 'wallet:' || :p || i, 'wallet', :p || i, 'CNY', 100000 + (i * 13) % 900000, true, :now
       FROM generate_series(CAST(1 AS bigint), CAST(:n AS bigint)) AS i""",
    """INSERT INTO ledger_transactions (id, currency, kind, ref_id, memo, created_at)
       SELECT 't' || k || :p || i, 'CNY', 'synthetic', NULL, '', CASE WHEN k = 0 THEN CAST(:opened AS timestamptz) ELSE CAST(:inside AS timestamptz) END
       FROM generate_series(CAST(1 AS bigint), CAST(:n AS bigint)) AS i CROSS JOIN generate_series(0, 1) AS k""",
    # Opening balance (before the window) = the payment inside it, so the balance is the
    # top-up inside the window: in = 100 000–1 000 000 fen, out = 0–1 200 000 fen.
    """INSERT INTO ledger_postings (transaction_id, account_id, amount_fen, created_at)
       SELECT 't' || k || :p || i, acc, amt, CASE WHEN k = 0 THEN CAST(:opened AS timestamptz) ELSE CAST(:inside AS timestamptz) END
       FROM generate_series(CAST(1 AS bigint), CAST(:n AS bigint)) AS i,
       LATERAL (VALUES (0, 'wallet:' || :p || i, ((i * 17) % 1200001)::bigint),
                       (0, 'system:settlement', -((i * 17) % 1200001)::bigint),
                       (1, 'wallet:' || :p || i, (100000 + (i * 13) % 900000)::bigint),
                       (1, 'system:settlement', -(100000 + (i * 13) % 900000)::bigint),
                       (1, 'wallet:' || :p || i, -((i * 17) % 1200001)::bigint),
                       (1, 'system:settlement', ((i * 17) % 1200001)::bigint)) AS x(k, acc, amt)
       WHERE amt <> 0""",
    """INSERT INTO spending_events (event_id, user_id, category, amount_fen, occurred_at, received_at, energy_g)
       SELECT 'se' || k || :p || i, :p || i,
              (ARRAY['offline_payment', 'online_payment', 'bill_payment', 'transit', 'e_ticket',
                     'groceries'])[1 + (i + k) % 6],
              100 + (i * 37 + k * 101) % 500000, :inside, :now, 0
       FROM generate_series(CAST(1 AS bigint), CAST(:n AS bigint)) AS i CROSS JOIN generate_series(0, 1) AS k""",
)


async def populate(db: AsyncSession, *, n: int, now: datetime, prefix: str = "u_ins") -> None:
    """``n`` synthetic members (ids ``prefix`` + 1…n), in the caller's transaction."""
    params = {
        "p": prefix,
        "n": n,
        "now": now,
        "year": now.year,
        "opened": now - timedelta(days=60),
        "inside": now - timedelta(days=3),
    }
    for statement in _STATEMENTS:
        await db.execute(text(statement), params)
