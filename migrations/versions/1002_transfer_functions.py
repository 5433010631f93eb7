"""Transfers as SQL functions: create, and accept / decline / refund, one call each.

- app: ``ledger_open_account`` (an account, once), ``notification_add`` (a stored
  notification; ``app.notifications.service.notify`` calls it too);
- chat: ``chat_direct_conversation_id`` (a pair's direct conversation, if any);
- transfers: ``transfer_body`` (what a transfer's chat message says), ``transfer_public``
  (the API's transfer, times as the API writes them: ``qz_json_time``), ``transfer_create``
  and ``transfer_settle`` (the use cases, through the functions of the features they use;
  given the request's Idempotency-Key they write its record with the answer, through
  ``idempotency_record``, migration 1001).

Revision ID: 1002
Revises: 1001
Create Date: 2026-12-07 18:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1002"
down_revision: str | Sequence[str] | None = "1001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTIONS = [
    """
CREATE FUNCTION ledger_open_account(
    p_id text, p_kind text, p_owner text, p_tracks_balance boolean, p_now timestamptz
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO ledger_accounts (id, kind, owner_id, balance_fen, tracks_balance, created_at)
    VALUES (p_id, p_kind, p_owner, 0, p_tracks_balance, p_now)
    ON CONFLICT (id) DO NOTHING
$$
""",
    """
CREATE FUNCTION notification_add(
    p_id text, p_user text, p_kind text, p_data json, p_now timestamptz
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO notifications (id, user_id, kind, data, read_at, created_at)
    VALUES (p_id, p_user, p_kind, p_data, NULL, p_now)
$$
""",
    """
CREATE FUNCTION chat_direct_conversation_id(p_a text, p_b text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT c.id FROM conversations c
    WHERE c.direct_key = least(p_a COLLATE "C", p_b COLLATE "C") || '|'
                         || greatest(p_a COLLATE "C", p_b COLLATE "C")
$$
""",
    """
CREATE FUNCTION qz_json_time(p_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN extract(microseconds FROM p_at)::bigint % 1000000 = 0 THEN ''
                ELSE to_char(p_at AT TIME ZONE 'UTC', '.US') END
        || 'Z'
$$
""",
    """
CREATE FUNCTION transfer_public(t transfers) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
    SELECT json_build_object(
        'id', t.id, 'status', t.status, 'expires_at', qz_json_time(t.expires_at),
        'from_user_id', t.sender_id, 'to_user_id', t.receiver_id, 'amount_fen', t.amount_fen,
        'note', t.note, 'conversation_id', t.conversation_id,
        'created_at', qz_json_time(t.created_at), 'resolved_at', qz_json_time(t.resolved_at))
$$
""",
    """
CREATE FUNCTION transfer_body(t transfers, p_status text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'transfer_id', t.id, 'amount_fen', t.amount_fen, 'from_user_id', t.sender_id,
        'to_user_id', t.receiver_id, 'note', t.note, 'status', p_status,
        'expires_at', qz_isoformat(t.expires_at))
$$
""",
    """
CREATE FUNCTION transfer_create(
    p_id text, p_sender text, p_receiver text, p_amount bigint, p_note text,
    p_conversation text, p_now timestamptz, p_expires_at timestamptz, p_day date,
    p_daily_limit bigint, p_wallet text, p_escrow text, p_txn_id text,
    p_notification_id text, p_message_id text, p_idem_key text, p_idem_fingerprint text,
    p_idem_status integer,
    OUT response json, OUT conversation_id text, OUT notification_data json, OUT message_body json,
    OUT message_seq bigint, OUT members text[]
) LANGUAGE plpgsql AS $$
DECLARE
    t transfers;
    m record;
BEGIN
    PERFORM friends_check_may_send_money(p_sender, p_receiver, true);
    IF p_conversation IS NULL THEN
        conversation_id := chat_direct_conversation_id(p_sender, p_receiver);
        IF conversation_id IS NULL THEN
            RETURN;  -- no direct conversation yet: the caller creates it and calls again
        END IF;
    ELSE
        IF NOT chat_is_member(p_conversation, p_sender) THEN
            PERFORM qz_raise('not_found', 'conversation not found',
                jsonb_build_object('conversation_id', p_conversation));
        END IF;
        IF NOT chat_is_member(p_conversation, p_receiver) THEN
            PERFORM qz_raise('validation_error', 'the receiver is not in that conversation',
                '{"field": "conversation_id"}');
        END IF;
        conversation_id := p_conversation;
    END IF;
    PERFORM wallet_count_outgoing(p_sender, p_day, p_amount, p_daily_limit);
    INSERT INTO transfers (id, sender_id, receiver_id, amount_fen, note, conversation_id, status,
                           created_at, expires_at, resolved_at)
    VALUES (p_id, p_sender, p_receiver, p_amount, p_note, conversation_id, 'pending', p_now,
            p_expires_at, NULL)
    RETURNING * INTO t;
    PERFORM ledger_open_account(p_escrow, 'transfer_escrow', NULL, true, p_now);
    PERFORM ledger_post(p_txn_id, 'transfer', ARRAY[p_wallet, p_escrow], ARRAY[-p_amount, p_amount],
        p_now, p_id, 'transfer sent');
    notification_data := json_build_object(
        'transfer_id', p_id, 'from_user_id', p_sender, 'amount_fen', p_amount, 'note', p_note);
    PERFORM notification_add(p_notification_id, p_receiver, 'transfer_received', notification_data, p_now);
    message_body := transfer_body(t, 'pending')::json;
    SELECT a.seq, a.members INTO m
    FROM chat_append_message(p_message_id, t.conversation_id, p_sender, 'transfer', message_body, NULL, p_now) a;
    message_seq := m.seq;
    members := m.members;
    response := transfer_public(t);
    IF p_idem_key IS NOT NULL THEN  -- the request's Idempotency-Key, with this answer
        PERFORM idempotency_record(p_sender, p_idem_key, p_idem_fingerprint, p_idem_status,
            response::text, p_now);
    END IF;
END $$
""",
    """
CREATE FUNCTION transfer_settle(
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
BEGIN
    IF p_status = 'refunded' THEN  -- the sweep: expired and still pending, or nothing
        UPDATE transfers x SET status = 'refunded', resolved_at = p_now
        WHERE x.id = p_id AND x.status = 'pending' AND x.expires_at <= p_now
        RETURNING x.* INTO t;
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
        CASE p_status WHEN 'refunded' THEN 'transfer expired: refunded' ELSE 'transfer ' || p_status END);
    notification_user := t.sender_id;
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
            'reason', CASE p_status WHEN 'declined' THEN 'declined' ELSE 'expired' END);
        message_sender := NULL;
        message_kind := 'system';
        message_body := (jsonb_build_object('event',
            CASE p_status WHEN 'declined' THEN 'transfer_declined' ELSE 'transfer_refunded' END)
            || transfer_body(t, p_status))::json;
    END IF;
    PERFORM notification_add(p_notification_id, notification_user, notification_kind, notification_data, p_now);
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
""",
]

_DROP = [
    "transfer_settle(text, text, timestamptz, text, text, text, text, text, text, text, text, integer)",
    "transfer_create(text, text, text, bigint, text, text, timestamptz, timestamptz, date, bigint,"
    " text, text, text, text, text, text, text, integer)",
    "transfer_body(transfers, text)",
    "transfer_public(transfers)",
    "qz_json_time(timestamptz)",
    "chat_direct_conversation_id(text, text)",
    "notification_add(text, text, text, json, timestamptz)",
    "ledger_open_account(text, text, text, boolean, timestamptz)",
]


def upgrade() -> None:
    for ddl in _FUNCTIONS:
        op.execute(ddl)


def downgrade() -> None:
    for signature in _DROP:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
