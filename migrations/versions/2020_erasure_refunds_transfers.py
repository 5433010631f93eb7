"""A pending transfer is refunded at once when its sender or receiver erases their account.

``transfer_settle`` with ``p_status = 'refunded'`` keeps being the one refund rule: called
by the 24 h sweep (``p_user`` NULL) it refunds an expired transfer, as before; called by
an erasure with ``p_user`` the erased party it refunds the pending transfer now, expired
or not. The money goes back to the sender either way (an erased sender's wallet is then
paid back to the bank with the rest of its balance). The notification says
``reason: account_closed``, and an erased sender gets none.

Revision ID: 2020
Revises: 2000
Create Date: 2026-12-07 20:40:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "2020"
down_revision: str | Sequence[str] | None = "2000"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SETTLE = """
CREATE OR REPLACE FUNCTION transfer_settle(
    p_id text, p_user text, p_now timestamptz, p_status text, p_wallet_prefix text,
    p_escrow text, p_txn_id text, p_notification_id text, p_message_id text, p_idem_key text,
    p_idem_fingerprint text, p_idem_status integer,
    OUT response json, OUT t_sender_id text, OUT t_receiver_id text, OUT t_amount_fen bigint, OUT t_note text,
    OUT t_conversation_id text, OUT t_created_at timestamptz, OUT t_expires_at timestamptz,
    OUT notification_user text, OUT notification_kind text, OUT notification_data json,
    OUT message_sender text, OUT message_kind text, OUT message_body json,
    OUT message_seq bigint, OUT members text[]
) RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
    t transfers;
    m record;
    payee text;
    closing boolean := false;
BEGIN
    IF p_status = 'refunded' THEN
        -- the sweep (p_user NULL): expired and still pending, or nothing; an erasure
        -- (p_user the erased party): still pending, expired or not
        UPDATE transfers x SET status = 'refunded', resolved_at = p_now
        WHERE x.id = p_id AND x.status = 'pending'
          AND (x.expires_at <= p_now OR p_user IN (x.sender_id, x.receiver_id))
        RETURNING x.* INTO t;
        closing := p_user IS NOT NULL;
        IF NOT FOUND THEN
            RETURN;
        END IF;
    ELSE  -- the receiver accepts or declines: leaves pending once (the row lock)
        UPDATE transfers x SET status = p_status, resolved_at = p_now
        WHERE x.id = p_id AND x.receiver_id = p_user AND x.status = 'pending' AND x.expires_at > p_now
        RETURNING x.* INTO t;
        IF NOT FOUND THEN
            SELECT * INTO t FROM transfers x WHERE x.id = p_id;
            IF NOT FOUND OR p_user NOT IN (t.sender_id, t.receiver_id) THEN
                PERFORM qz_raise('not_found', 'transfer not found', jsonb_build_object('transfer_id', p_id));
            END IF;
            IF p_user <> t.receiver_id THEN
                PERFORM qz_raise('forbidden', 'only the receiver can accept or decline a transfer');
            END IF;
            IF t.status <> 'pending' THEN
                PERFORM qz_raise('conflict', 'the transfer is already ' || t.status,
                    jsonb_build_object('status', t.status));
            END IF;
            PERFORM qz_raise('expired', 'the transfer has expired and is being refunded',
                jsonb_build_object('expires_at', qz_isoformat(t.expires_at)));
        END IF;
    END IF;
    IF p_status = 'accepted' THEN
        -- Money lands only where it may: a block since it was sent (decline, or wait for the refund).
        PERFORM friends_check_may_send_money(t.sender_id, t.receiver_id, false);
        payee := t.receiver_id;
    ELSE
        payee := t.sender_id;
    END IF;
    PERFORM ledger_post(p_txn_id,
        CASE p_status WHEN 'accepted' THEN 'transfer_accept' WHEN 'declined' THEN 'transfer_decline'
                      ELSE 'transfer_refund' END,
        ARRAY[p_escrow, p_wallet_prefix || payee], ARRAY[-t.amount_fen, t.amount_fen], p_now, t.id,
        CASE WHEN closing THEN 'account closed: transfer refunded'
             WHEN p_status = 'refunded' THEN 'transfer expired: refunded' ELSE 'transfer ' || p_status END);
    -- An erased sender is told nothing (their account is gone); the others are.
    notification_user := CASE WHEN closing AND p_user = t.sender_id THEN NULL ELSE t.sender_id END;
    IF p_status = 'accepted' THEN
        notification_kind := 'transfer_accepted';
        notification_data := json_build_object(
            'transfer_id', t.id, 'to_user_id', t.receiver_id, 'amount_fen', t.amount_fen);
        -- The receiver's "received" bubble, as in WeChat.
        message_sender := t.receiver_id;
        message_kind := 'transfer';
        message_body := transfer_body(t, 'accepted')::json;
    ELSE  -- declined or expired: the money is back with the sender
        notification_kind := 'transfer_refunded';
        notification_data := json_build_object('transfer_id', t.id, 'amount_fen', t.amount_fen,
            'reason', CASE WHEN closing THEN 'account_closed' WHEN p_status = 'declined' THEN 'declined'
                           ELSE 'expired' END);
        message_sender := NULL;
        message_kind := 'system';
        message_body := (jsonb_build_object('event',
            CASE p_status WHEN 'declined' THEN 'transfer_declined' ELSE 'transfer_refunded' END)
            || transfer_body(t, p_status))::json;
    END IF;
    IF notification_user IS NOT NULL THEN
        PERFORM notification_add(p_notification_id, notification_user, notification_kind, notification_data,
            p_now);
    END IF;
    SELECT a.seq, a.members INTO m
    FROM chat_append_message(p_message_id, t.conversation_id, message_sender, message_kind,
                             message_body, NULL, p_now) a;
    t_sender_id := t.sender_id;
    t_receiver_id := t.receiver_id;
    t_amount_fen := t.amount_fen;
    t_note := t.note;
    t_conversation_id := t.conversation_id;
    t_created_at := t.created_at;
    t_expires_at := t.expires_at;
    message_seq := m.seq;
    members := m.members;
    response := transfer_public(t);
    IF p_idem_key IS NOT NULL THEN  -- the receiver's Idempotency-Key, with this answer
        PERFORM idempotency_record(p_user, p_idem_key, p_idem_fingerprint, p_idem_status,
            response::text, p_now);
    END IF;
    RETURN NEXT;
END $$
"""


def upgrade() -> None:
    op.execute(_SETTLE)


def downgrade() -> None:
    path = Path(__file__).with_name("1002_transfer_functions.py")
    spec = importlib.util.spec_from_file_location("transfer_functions_1002", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    old = next(ddl for ddl in module._FUNCTIONS if "FUNCTION transfer_settle(" in ddl)
    op.execute(old.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
