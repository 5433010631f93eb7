"""Money use cases as SQL functions: each rule once, a grab in one statement.

Each feature's rules, written once, in SQL that every caller uses (Python included):

- app: ``qz_raise`` (a domain error: SQLSTATE QZ001, the error code in HINT, its details
  as JSON in DETAIL; ``app.db.execute`` turns it into the ``QuanziError`` of that code),
  ``qz_isoformat`` (a time as Python's ``isoformat`` writes it), ``ledger_post`` (the
  one posting: validation, account locks in id order, balance checks, writes),
  ``wallet_count_daily`` / ``wallet_count_outgoing`` (the daily limits);
- friends: ``friends_may_send_money`` / ``friends_check_may_send_money`` (who may send
  whom money);
- chat: ``chat_is_member``, ``chat_append_message`` (seq, insert, the sender's read mark);
- red packets: ``red_packet_refuse`` (why a user may not grab), ``red_packet_grab`` (the
  whole grab: share, claim, the money rule, the posting and the system message).

A feature's function calls another feature's only through the functions above, never
its tables.

Revision ID: 1000
Revises: 0801
Create Date: 2026-12-07 18:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1000"
down_revision: str | Sequence[str] | None = "0801"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTIONS = [
    # -- app: errors ---------------------------------------------------------------------
    """
CREATE FUNCTION qz_raise(p_code text, p_message text, p_details jsonb DEFAULT '{}')
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'QZ001', MESSAGE = p_message, HINT = p_code,
        DETAIL = p_details::text;
END $$
""",
    """
CREATE FUNCTION qz_isoformat(p_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN extract(microseconds FROM p_at)::bigint % 1000000 = 0 THEN ''
                ELSE to_char(p_at AT TIME ZONE 'UTC', '.US') END
        || '+00:00'
$$
""",
    # -- app: the ledger -----------------------------------------------------------------
    """
CREATE FUNCTION ledger_post(
    p_txn_id text, p_kind text, p_accounts text[], p_amounts bigint[], p_now timestamptz,
    p_ref_id text DEFAULT NULL, p_memo text DEFAULT ''
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
    SELECT e.account_id, e.amount_fen, a.id IS NULL AS missing INTO bad
    FROM unnest(p_accounts, p_amounts) AS e(account_id, amount_fen)
    LEFT JOIN ledger_accounts a ON a.id = e.account_id
    WHERE a.id IS NULL OR (a.tracks_balance AND a.balance_fen + e.amount_fen < 0)
    ORDER BY e.account_id COLLATE "C" LIMIT 1;
    IF FOUND THEN
        IF bad.missing THEN
            PERFORM qz_raise('not_found', 'account not found', jsonb_build_object('account_id', bad.account_id));
        END IF;
        PERFORM qz_raise('insufficient_funds', 'insufficient funds',
            jsonb_build_object('account_id', bad.account_id, 'needed_fen', -bad.amount_fen));
    END IF;
    UPDATE ledger_accounts a SET balance_fen = a.balance_fen + e.amount_fen
    FROM unnest(p_accounts, p_amounts) AS e(account_id, amount_fen)
    WHERE a.id = e.account_id AND a.tracks_balance;
    INSERT INTO ledger_transactions (id, kind, ref_id, memo, created_at)
    VALUES (p_txn_id, p_kind, p_ref_id, p_memo, p_now);
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
""",
    # -- app: the wallet's daily limits ----------------------------------------------------
    """
CREATE FUNCTION wallet_count_daily(
    p_user text, p_kind text, p_day date, p_amount bigint, p_limit bigint
) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF p_amount > p_limit THEN
        RETURN false;
    END IF;
    INSERT INTO wallet_daily_usage AS u (user_id, day, kind, amount_fen)
    VALUES (p_user, p_day, p_kind, p_amount)
    ON CONFLICT (user_id, day, kind) DO UPDATE SET amount_fen = u.amount_fen + excluded.amount_fen
    WHERE u.amount_fen + excluded.amount_fen <= p_limit;
    RETURN FOUND;
END $$
""",
    """
CREATE FUNCTION wallet_count_outgoing(p_user text, p_day date, p_amount bigint, p_limit bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT wallet_count_daily(p_user, 'outgoing', p_day, p_amount, p_limit) THEN
        PERFORM qz_raise('limit_exceeded',
            'daily outgoing limit reached (transfers and red packets together)',
            jsonb_build_object('limit', 'outgoing_daily', 'daily_max_fen', p_limit,
                               'day', to_char(p_day, 'YYYY-MM-DD')));
    END IF;
END $$
""",
    # -- friends: who may send whom money --------------------------------------------------
    """
CREATE FUNCTION friends_may_send_money(p_sender text, p_receiver text, p_friends_only boolean)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_sender = p_receiver THEN NOT p_friends_only ELSE
        (NOT p_friends_only OR EXISTS (
            SELECT 1 FROM friendships f
            WHERE f.user_lo = least(p_sender COLLATE "C", p_receiver COLLATE "C")
              AND f.user_hi = greatest(p_sender COLLATE "C", p_receiver COLLATE "C")))
        AND NOT EXISTS (
            SELECT 1 FROM blocks b
            WHERE (b.blocker_id = p_sender AND b.blocked_id = p_receiver)
               OR (b.blocker_id = p_receiver AND b.blocked_id = p_sender))
    END
$$
""",
    """
CREATE FUNCTION friends_check_may_send_money(p_sender text, p_receiver text, p_friends_only boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT friends_may_send_money(p_sender, p_receiver, p_friends_only) THEN
        PERFORM qz_raise('forbidden', 'money cannot move between you and this person'
            || CASE WHEN p_friends_only THEN ' (friends only, and no block either way)'
                    ELSE ' (a block either way)' END,
            '{"reason": "money_not_allowed"}');
    END IF;
END $$
""",
    # -- chat ----------------------------------------------------------------------------
    """
CREATE FUNCTION chat_is_member(p_conversation text, p_user text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM conversation_members m
                   WHERE m.conversation_id = p_conversation AND m.user_id = p_user)
$$
""",
    """
CREATE FUNCTION chat_append_message(
    p_id text, p_conversation text, p_sender text, p_kind text, p_body json, p_cid text,
    p_now timestamptz, OUT seq bigint, OUT members text[]
) LANGUAGE plpgsql AS $$
BEGIN
    -- The conversation's row lock orders its messages: seqs without gaps.
    UPDATE conversations c SET last_seq = c.last_seq + 1, last_message_at = p_now
    WHERE c.id = p_conversation RETURNING c.last_seq INTO seq;
    IF NOT FOUND THEN
        PERFORM qz_raise('not_found', 'conversation not found',
            jsonb_build_object('conversation_id', p_conversation));
    END IF;
    INSERT INTO messages (id, conversation_id, seq, sender_id, kind, body, cid, created_at)
    VALUES (p_id, p_conversation, seq, p_sender, p_kind, p_body, p_cid, p_now);
    IF p_sender IS NOT NULL THEN  -- the sender has read their own message
        UPDATE conversation_members m SET last_read_seq = seq
        WHERE m.conversation_id = p_conversation AND m.user_id = p_sender AND m.last_read_seq < seq;
    END IF;
    members := ARRAY(SELECT m.user_id FROM conversation_members m WHERE m.conversation_id = p_conversation);
END $$
""",
    # -- red packets -----------------------------------------------------------------------
    """
CREATE FUNCTION red_packet_refuse(p_packet text, p_user text, p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    p record;
BEGIN
    SELECT r.conversation_id, r.sender_id, r.mode, r.to_user_id, r.sender_may_grab, r.status,
           r.expires_at,
           EXISTS (SELECT 1 FROM red_packet_claims c WHERE c.packet_id = r.id AND c.user_id = p_user)
               AS claimed
    INTO p FROM red_packets r WHERE r.id = p_packet;
    IF NOT FOUND OR NOT chat_is_member(p.conversation_id, p_user) THEN
        PERFORM qz_raise('not_found', 'red packet not found', jsonb_build_object('packet_id', p_packet));
    END IF;
    IF p.mode = 'exclusive' AND p_user IS DISTINCT FROM p.to_user_id THEN
        PERFORM qz_raise('forbidden', 'this red packet is for someone else');
    END IF;
    IF p_user = p.sender_id AND NOT p.sender_may_grab THEN
        PERFORM qz_raise('forbidden', 'the sender cannot grab a red packet in a direct chat');
    END IF;
    IF p.claimed THEN
        PERFORM qz_raise('already_claimed', 'you already grabbed this red packet');
    END IF;
    IF p.status = 'refunded' OR (p.status = 'open' AND p.expires_at <= p_now) THEN
        PERFORM qz_raise('expired', 'the red packet has expired',
            jsonb_build_object('expires_at', qz_isoformat(p.expires_at)));
    END IF;
    IF p.status = 'finished' THEN
        PERFORM qz_raise('sold_out', 'every share has been taken');
    END IF;
END $$
""",
    """
CREATE FUNCTION red_packet_grab(
    p_packet text, p_user text, p_now timestamptz, p_escrow text, p_wallet text,
    p_txn_id text, p_message_id text,
    OUT amount_fen bigint, OUT remaining_count integer, OUT conversation_id text,
    OUT message_seq bigint, OUT message_body json, OUT members text[]
) LANGUAGE plpgsql AS $$
DECLARE
    t record;
    m record;
BEGIN
    PERFORM red_packet_refuse(p_packet, p_user, p_now);
    -- The next share: the packet's row lock queues the grabs of one packet.
    UPDATE red_packets r SET
        remaining_count = r.remaining_count - 1,
        remaining_fen = r.remaining_fen - (r.shares ->> (r.count - r.remaining_count))::bigint,
        status = CASE WHEN r.remaining_count = 1 THEN 'finished' ELSE r.status END,
        closed_at = CASE WHEN r.remaining_count = 1 THEN p_now ELSE r.closed_at END
    WHERE r.id = p_packet AND r.status = 'open' AND r.remaining_count > 0 AND r.expires_at > p_now
    RETURNING r.conversation_id, r.sender_id, r.remaining_count AS left_count,
              r.count - r.remaining_count - 1 AS idx,
              (r.shares ->> (r.count - r.remaining_count - 1))::bigint AS amount
    INTO t;
    IF NOT FOUND THEN  -- taken or expired while we queued: say which
        PERFORM red_packet_refuse(p_packet, p_user, p_now);
        PERFORM qz_raise('sold_out', 'every share has been taken');
    END IF;
    INSERT INTO red_packet_claims (packet_id, user_id, idx, amount_fen, at)
    VALUES (p_packet, p_user, t.idx, t.amount, p_now)
    ON CONFLICT (packet_id, user_id) DO NOTHING;
    IF NOT FOUND THEN  -- a concurrent grab by the same user won
        PERFORM qz_raise('already_claimed', 'you already grabbed this red packet');
    END IF;
    -- Money lands only where it may: a block either way since the packet was sent.
    PERFORM friends_check_may_send_money(t.sender_id, p_user, false);
    PERFORM ledger_post(p_txn_id, 'red_packet_claim', ARRAY[p_escrow, p_wallet],
        ARRAY[-t.amount, t.amount], p_now, p_packet, 'red packet grabbed');
    message_body := json_build_object(
        'event', 'red_packet_claimed', 'packet_id', p_packet, 'user_id', p_user,
        'sender_id', t.sender_id, 'amount_fen', t.amount, 'remaining_count', t.left_count);
    SELECT a.seq, a.members INTO m
    FROM chat_append_message(p_message_id, t.conversation_id, NULL, 'system', message_body, NULL, p_now) a;
    amount_fen := t.amount;
    remaining_count := t.left_count;
    conversation_id := t.conversation_id;
    message_seq := m.seq;
    members := m.members;
END $$
""",
]

_DROP = [
    "red_packet_grab(text, text, timestamptz, text, text, text, text)",
    "red_packet_refuse(text, text, timestamptz)",
    "chat_append_message(text, text, text, text, json, text, timestamptz)",
    "chat_is_member(text, text)",
    "friends_check_may_send_money(text, text, boolean)",
    "friends_may_send_money(text, text, boolean)",
    "wallet_count_outgoing(text, date, bigint, bigint)",
    "wallet_count_daily(text, text, date, bigint, bigint)",
    "ledger_post(text, text, text[], bigint[], timestamptz, text, text)",
    "qz_isoformat(timestamptz)",
    "qz_raise(text, text, jsonb)",
]


def upgrade() -> None:
    for ddl in _FUNCTIONS:
        op.execute(ddl)


def downgrade() -> None:
    for signature in _DROP:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
