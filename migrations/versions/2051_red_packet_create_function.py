"""Sending a red packet is one SQL function, ``red_packet_create``, as a grab and a
transfer are: who may be sent money (``friends_check_may_send_money``), the packet's
rules (members who may grab, exclusive packets), the daily outgoing limit
(``wallet_count_outgoing``), the escrow and its posting (``ledger_post``), the chat
message (``chat_append_message``) and the request's idempotency record, in one call.
Chat gains two functions for other features' SQL: ``chat_conversation_kind`` and
``chat_member_ids``.

Revision ID: 2051
Revises: 2021
Create Date: 2026-12-07 21:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "2051"
down_revision: str | Sequence[str] | None = "2021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Chat's: what another feature's SQL may read of a conversation.
_CHAT = [
    """
CREATE FUNCTION chat_conversation_kind(p_conversation text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT c.kind FROM conversations c WHERE c.id = p_conversation
$$
""",
    """
CREATE FUNCTION chat_member_ids(p_conversation text) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT ARRAY(SELECT m.user_id FROM conversation_members m WHERE m.conversation_id = p_conversation)
$$
""",
]

_CREATE = """
CREATE FUNCTION red_packet_create(
    p_id text, p_conversation text, p_sender text, p_mode text, p_to_user text, p_greeting text,
    p_total bigint, p_count integer, p_shares json, p_now timestamptz, p_expires_at timestamptz,
    p_day date, p_daily_limit bigint, p_wallet text, p_escrow text, p_txn_id text,
    p_message_id text, p_idem_key text, p_idem_fingerprint text, p_idem_status integer,
    OUT response json, OUT message_body json, OUT message_seq bigint, OUT members text[]
) LANGUAGE plpgsql AS $$
DECLARE
    conv_kind text;
    everyone text[];
    eligible integer;
    other text;
    m record;
BEGIN
    conv_kind := chat_conversation_kind(p_conversation);
    IF conv_kind IS NULL OR NOT chat_is_member(p_conversation, p_sender) THEN
        PERFORM qz_raise('not_found', 'conversation not found',
            jsonb_build_object('conversation_id', p_conversation));
    END IF;
    everyone := chat_member_ids(p_conversation);
    IF conv_kind = 'direct' THEN
        -- Person to person, as a transfer: friends only, no block either way.
        FOREACH other IN ARRAY everyone LOOP
            IF other <> p_sender THEN
                PERFORM friends_check_may_send_money(p_sender, other, true);
            END IF;
        END LOOP;
        eligible := cardinality(everyone) - 1;
    ELSE
        eligible := cardinality(everyone);  -- in a group the sender may grab too
    END IF;
    IF p_mode = 'exclusive' THEN
        IF p_to_user IS NULL OR p_to_user = p_sender OR NOT p_to_user = ANY (everyone) THEN
            PERFORM qz_raise('validation_error', 'an exclusive packet names another member',
                '{"field": "to_user_id"}');
        END IF;
        IF conv_kind <> 'direct' THEN  -- to one person through the group: no block either way
            PERFORM friends_check_may_send_money(p_sender, p_to_user, false);
        END IF;
    ELSIF p_to_user IS NOT NULL THEN
        PERFORM qz_raise('validation_error', 'to_user_id is only for exclusive packets',
            '{"field": "to_user_id"}');
    END IF;
    IF p_count > eligible THEN
        PERFORM qz_raise('validation_error', 'more shares than members who can grab',
            jsonb_build_object('field', 'count', 'max_count', eligible));
    END IF;
    PERFORM wallet_count_outgoing(p_sender, p_day, p_total, p_daily_limit);
    INSERT INTO red_packets (id, conversation_id, sender_id, mode, to_user_id, sender_may_grab,
                             greeting, total_fen, count, shares, remaining_count, remaining_fen,
                             refunded_fen, status, created_at, expires_at, closed_at)
    VALUES (p_id, p_conversation, p_sender, p_mode, p_to_user, conv_kind <> 'direct', p_greeting,
            p_total, p_count, p_shares, p_count, p_total, 0, 'open', p_now, p_expires_at, NULL);
    PERFORM ledger_open_account(p_escrow, 'red_packet_escrow', NULL, true, p_now);
    PERFORM ledger_post(p_txn_id, 'red_packet', ARRAY[p_wallet, p_escrow], ARRAY[-p_total, p_total],
        p_now, p_id, 'red packet sent');
    message_body := json_build_object(
        'packet_id', p_id, 'total_fen', p_total, 'count', p_count, 'mode', p_mode,
        'to_user_id', p_to_user, 'greeting', p_greeting, 'expires_at', qz_isoformat(p_expires_at));
    -- Last: the conversation's row lock (every message of the group queues on it).
    SELECT a.seq, a.members INTO m
    FROM chat_append_message(p_message_id, p_conversation, p_sender, 'red_packet', message_body, NULL, p_now) a;
    message_seq := m.seq;
    members := m.members;
    response := json_build_object(
        'id', p_id, 'conversation_id', p_conversation, 'total_fen', p_total, 'count', p_count,
        'mode', p_mode, 'status', 'open', 'expires_at', qz_json_time(p_expires_at));
    IF p_idem_key IS NOT NULL THEN  -- the request's Idempotency-Key, with this answer
        PERFORM idempotency_record(p_sender, p_idem_key, p_idem_fingerprint, p_idem_status,
            response::text, p_now);
    END IF;
END $$
"""


def upgrade() -> None:
    for ddl in _CHAT:
        op.execute(ddl)
    op.execute(_CREATE)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION red_packet_create(text, text, text, text, text, text, bigint, integer, json,"
        " timestamptz, timestamptz, date, bigint, text, text, text, text, text, text, integer)"
    )
    op.execute("DROP FUNCTION chat_member_ids(text)")
    op.execute("DROP FUNCTION chat_conversation_kind(text)")
