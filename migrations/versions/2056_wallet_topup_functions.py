"""Top-ups in one call: ``wallet_require_cardholder``, ``wallet_credit_from_bank``,
``wallet_dev_topup``.

The dev top-up was eight round trips (BEGIN, the day's count, the card check, the
posting, the key's record, COMMIT, around authentication); now one function call, its
own transaction, which writes the request's idempotency record with its answer (as a
grab does). The bank's top-up (by ``bank_ref``) credits through the same function, so
who may be topped up and from where is written once, here.

Revision ID: 2056
Revises: 2055
Create Date: 2026-12-08 03:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "2056"
down_revision: str | Sequence[str] | None = "2055"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTIONS = [
    """
CREATE FUNCTION wallet_require_cardholder(p_user text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    card boolean;
BEGIN
    SELECT u.is_cardholder INTO card FROM users u WHERE u.id = p_user;
    IF NOT FOUND THEN
        PERFORM qz_raise('not_found', 'user not found', jsonb_build_object('user_id', p_user));
    END IF;
    IF NOT card THEN
        PERFORM qz_raise('conflict', 'link a bank card before topping up', '{"reason": "no_card"}');
    END IF;
END $$
""",
    """
CREATE FUNCTION wallet_credit_from_bank(
    p_user text, p_amount bigint, p_settlement text, p_wallet text, p_txn_id text,
    p_now timestamptz, p_memo text
) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    -- A cardholder's wallet, from the bank's settlement account; the wallet's balance after.
    PERFORM wallet_require_cardholder(p_user);
    RETURN (ledger_post(p_txn_id, 'topup', ARRAY[p_settlement, p_wallet], ARRAY[-p_amount, p_amount],
                        p_now, p_user, p_memo) ->> p_wallet)::bigint;
END $$
""",
    """
CREATE FUNCTION wallet_dev_topup(
    p_user text, p_amount bigint, p_day date, p_daily_limit bigint, p_settlement text,
    p_wallet text, p_txn_id text, p_now timestamptz,
    p_idem_key text, p_idem_fingerprint text, p_idem_status integer, OUT response json
) LANGUAGE plpgsql AS $$
BEGIN
    IF NOT wallet_count_daily(p_user, 'dev_topup', p_day, p_amount, p_daily_limit) THEN
        PERFORM qz_raise('limit_exceeded', 'daily top-up limit reached',
            jsonb_build_object('limit', 'dev_topup_daily', 'daily_max_fen', p_daily_limit,
                               'day', to_char(p_day, 'YYYY-MM-DD')));
    END IF;
    response := json_build_object(
        'transaction_id', p_txn_id, 'amount_fen', p_amount,
        'balance_fen', wallet_credit_from_bank(p_user, p_amount, p_settlement, p_wallet, p_txn_id,
                                               p_now, 'top-up from card'));
    IF p_idem_key IS NOT NULL THEN  -- the request's Idempotency-Key, with this answer
        PERFORM idempotency_record(p_user, p_idem_key, p_idem_fingerprint, p_idem_status,
            response::text, p_now);
    END IF;
END $$
""",
]

_NAMES = ["wallet_dev_topup", "wallet_credit_from_bank", "wallet_require_cardholder"]


def upgrade() -> None:
    for ddl in _FUNCTIONS:
        op.execute(ddl)
    for name in _NAMES:  # as migration 2054's: generic plans, by key
        op.execute(f"ALTER FUNCTION {name} SET plan_cache_mode = force_generic_plan")
        op.execute(f"ALTER FUNCTION {name} SET enable_seqscan = off")
        op.execute(f"ALTER FUNCTION {name} SET jit = off")


def downgrade() -> None:
    for name in _NAMES:
        op.execute(f"DROP FUNCTION {name}")
