"""Merge: money in SQL functions (1002) and points, profile, campaigns (1302); the
ledger's functions learn the currency.

``ledger_post`` takes the transaction's currency (default ``CNY``) and refuses an
account of another one (``validation_error``), so Σ = 0 holds per currency;
``ledger_open_account`` opens an account in a currency. Callers that name no currency
(the red packet and transfer functions) move CNY.

Revision ID: 1003
Revises: 1002, 1302
Create Date: 2026-12-07 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1003"
down_revision: str | Sequence[str] | None = ("1002", "1302")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_POST = "ledger_post(text, text, text[], bigint[], timestamptz, text, text)"
_NEW_POST = "ledger_post(text, text, text[], bigint[], timestamptz, text, text, text)"
_OLD_OPEN = "ledger_open_account(text, text, text, boolean, timestamptz)"
_NEW_OPEN = "ledger_open_account(text, text, text, boolean, timestamptz, text)"

_POST = """
CREATE FUNCTION ledger_post(
    p_txn_id text, p_kind text, p_accounts text[], p_amounts bigint[], p_now timestamptz,
    p_ref_id text DEFAULT NULL, p_memo text DEFAULT '', p_currency text DEFAULT 'CNY'
) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    bad record;
    result jsonb;
BEGIN
    IF coalesce(cardinality(p_accounts), 0) = 0
       OR cardinality(p_accounts) IS DISTINCT FROM cardinality(p_amounts)
       OR (SELECT sum(a) FROM unnest(p_amounts) a) <> 0 THEN
        PERFORM qz_raise('validation_error', 'postings must sum to zero');
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_amounts) a WHERE a IS NULL OR a = 0) THEN
        PERFORM qz_raise('validation_error', 'posting amounts must be non-zero integers (fen)');
    END IF;
    IF (SELECT count(DISTINCT a) FROM unnest(p_accounts) a) <> cardinality(p_accounts) THEN
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
    UPDATE ledger_accounts a SET balance_fen = a.balance_fen + e.amount_fen
    FROM unnest(p_accounts, p_amounts) AS e(account_id, amount_fen)
    WHERE a.id = e.account_id AND a.tracks_balance;
    INSERT INTO ledger_transactions (id, kind, ref_id, memo, created_at, currency)
    VALUES (p_txn_id, p_kind, p_ref_id, p_memo, p_now, p_currency);
    WITH posted AS (
        INSERT INTO ledger_postings (transaction_id, account_id, amount_fen, balance_after_fen, created_at)
        SELECT p_txn_id, e.account_id, e.amount_fen,
               CASE WHEN a.tracks_balance THEN a.balance_fen END, p_now
        FROM unnest(p_accounts, p_amounts) AS e(account_id, amount_fen)
        JOIN ledger_accounts a ON a.id = e.account_id
        RETURNING account_id, balance_after_fen
    )
    SELECT coalesce(jsonb_object_agg(account_id, balance_after_fen), '{}') INTO result
    FROM posted WHERE balance_after_fen IS NOT NULL;
    RETURN result;
END $$
"""

_OPEN = """
CREATE FUNCTION ledger_open_account(
    p_id text, p_kind text, p_owner text, p_tracks_balance boolean, p_now timestamptz,
    p_currency text DEFAULT 'CNY'
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO ledger_accounts (id, kind, owner_id, currency, balance_fen, tracks_balance, created_at)
    VALUES (p_id, p_kind, p_owner, p_currency, 0, p_tracks_balance, p_now)
    ON CONFLICT (id) DO NOTHING
$$
"""


def upgrade() -> None:
    op.execute(f"DROP FUNCTION {_OLD_POST}")
    op.execute(_POST)
    op.execute(f"DROP FUNCTION {_OLD_OPEN}")
    op.execute(_OPEN)


def downgrade() -> None:
    # Back to one currency: the functions of 1000 and 1002 come back with those revisions'
    # downgrades; here only the currency-aware ones go.
    op.execute(f"DROP FUNCTION {_NEW_POST}")
    op.execute(f"DROP FUNCTION {_NEW_OPEN}")
