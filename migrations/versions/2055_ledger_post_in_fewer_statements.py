"""``ledger_post`` in four statements instead of eight.

Every money movement runs it (a grab, a transfer and its settlement, a packet, a top-up,
points). Each statement of a PL/pgSQL function is an executor start and end of its own;
the three checks of the entries become one pass over them, and the balance update, the
transaction row and its postings one statement (a posting's foreign key to its
transaction is checked at the end of that statement, when the row is there). The same
checks in the same order, the same errors, the same rows, the same answer.

Revision ID: 2055
Revises: 2054
Create Date: 2026-12-08 02:55:00
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "2055"
down_revision: str | Sequence[str] | None = "2054"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POST = """
CREATE OR REPLACE FUNCTION ledger_post(
    p_txn_id text, p_kind text, p_accounts text[], p_amounts bigint[], p_now timestamptz,
    p_ref_id text DEFAULT NULL, p_memo text DEFAULT '', p_currency text DEFAULT 'CNY'
) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    unbalanced boolean;
    zero boolean;
    repeated boolean;
    bad record;
    result jsonb;
BEGIN
    IF coalesce(cardinality(p_accounts), 0) = 0
       OR cardinality(p_accounts) IS DISTINCT FROM cardinality(p_amounts) THEN
        PERFORM qz_raise('validation_error', 'postings must sum to zero');
    END IF;
    SELECT sum(e.amount_fen) <> 0, bool_or(e.amount_fen IS NULL OR e.amount_fen = 0),
           count(DISTINCT e.account_id) <> cardinality(p_accounts)
    INTO unbalanced, zero, repeated
    FROM unnest(p_accounts, p_amounts) AS e(account_id, amount_fen);
    IF unbalanced THEN
        PERFORM qz_raise('validation_error', 'postings must sum to zero');
    END IF;
    IF zero THEN
        PERFORM qz_raise('validation_error', 'posting amounts must be non-zero integers (fen)');
    END IF;
    IF repeated THEN
        PERFORM qz_raise('validation_error', 'one entry per account in a ledger transaction');
    END IF;
    -- Lock the tracked accounts in id order: postings touching several cannot deadlock.
    PERFORM 1 FROM ledger_accounts a
    WHERE a.id = ANY (p_accounts) AND a.tracks_balance
    ORDER BY a.id COLLATE "C" FOR UPDATE;
    SELECT e.account_id, e.amount_fen, a.id IS NULL AS missing, a.currency <> p_currency AS other_currency
    INTO bad
    FROM unnest(p_accounts, p_amounts) AS e(account_id, amount_fen)
    LEFT JOIN ledger_accounts a ON a.id = e.account_id
    WHERE a.id IS NULL OR a.currency <> p_currency
       OR (a.tracks_balance AND a.balance_fen + e.amount_fen < 0)
    ORDER BY e.account_id COLLATE "C" LIMIT 1;
    IF FOUND THEN
        IF bad.missing THEN
            PERFORM qz_raise('not_found', 'account not found', jsonb_build_object('account_id', bad.account_id));
        END IF;
        IF bad.other_currency THEN  -- a transaction moves one currency: Σ = 0 per currency
            PERFORM qz_raise('validation_error', 'a ledger transaction moves one currency',
                jsonb_build_object('currency', p_currency, 'account_id', bad.account_id));
        END IF;
        PERFORM qz_raise('insufficient_funds', 'insufficient funds',
            jsonb_build_object('account_id', bad.account_id, 'needed_fen', -bad.amount_fen));
    END IF;
    -- One statement writes it all: the tracked balances, the transaction, its postings
    -- (with the balance after, for tracked accounts).
    WITH moved AS (
        UPDATE ledger_accounts a SET balance_fen = a.balance_fen + e.amount_fen
        FROM unnest(p_accounts, p_amounts) AS e(account_id, amount_fen)
        WHERE a.id = e.account_id AND a.tracks_balance
        RETURNING a.id, a.balance_fen
    ), txn AS (
        INSERT INTO ledger_transactions (id, kind, ref_id, memo, created_at, currency)
        VALUES (p_txn_id, p_kind, p_ref_id, p_memo, p_now, p_currency)
    ), posted AS (
        INSERT INTO ledger_postings (transaction_id, account_id, amount_fen, balance_after_fen, created_at)
        SELECT p_txn_id, e.account_id, e.amount_fen, m.balance_fen, p_now
        FROM unnest(p_accounts, p_amounts) AS e(account_id, amount_fen)
        LEFT JOIN moved m ON m.id = e.account_id
        RETURNING account_id, balance_after_fen
    )
    SELECT coalesce(jsonb_object_agg(p.account_id, p.balance_after_fen), '{}') INTO result
    FROM posted p WHERE p.balance_after_fen IS NOT NULL;
    RETURN result;
END $$
"""

# As migration 2054 set them (CREATE OR REPLACE resets a function's settings).
_SETTINGS = ["plan_cache_mode = force_generic_plan", "enable_seqscan = off", "jit = off"]


def _settings() -> None:
    for setting in _SETTINGS:
        op.execute(f"ALTER FUNCTION ledger_post SET {setting}")


def upgrade() -> None:
    op.execute(_POST)
    _settings()


def downgrade() -> None:
    source = Path(__file__).with_name("1003_merge_money_sql_and_points.py").read_text()
    start = source.index("CREATE FUNCTION ledger_post(")
    old = source[start : source.index("END $$", start) + len("END $$")]
    op.execute(old.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    _settings()
