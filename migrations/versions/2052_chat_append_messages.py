"""Chat's sequence rule written once: ``chat_append_messages``.

A conversation's messages are numbered by bumping ``conversations.last_seq`` under the
row lock; that rule had three copies (this function's single-message predecessor, the
REST send's statement and the WebSocket batch's statement). ``chat_append_messages``
appends any number of messages to any number of conversations in one call: it locks the
conversations in id order (two batches sharing conversations cannot deadlock), bumps each
one's ``last_seq`` once by its count, numbers the messages in array order, inserts them
and moves each sender's read mark past their own message. ``chat_append_message`` (the
money functions' call) now delegates to it.

Revision ID: 2052
Revises: 2051
Create Date: 2026-12-07 23:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "2052"
down_revision: str | Sequence[str] | None = "2051"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_MANY = """
CREATE FUNCTION chat_append_messages(
    p_ids text[], p_convs text[], p_senders text[], p_kinds text[], p_bodies json[], p_cids text[],
    p_now timestamptz
) RETURNS TABLE (message_id text, message_conversation text, message_seq bigint)
LANGUAGE plpgsql AS $$
BEGIN
    -- The conversations' row locks order their messages (seqs without gaps), taken in id
    -- order and held to the commit, so callers append last. NO KEY UPDATE, as the UPDATE
    -- below takes: rows that reference the conversation (a transfer's) hold KEY SHARE on it.
    PERFORM 1 FROM conversations c WHERE c.id = ANY(p_convs) ORDER BY c.id FOR NO KEY UPDATE;
    RETURN QUERY
    WITH input AS (
        SELECT i.id, i.conversation_id, i.sender_id, i.kind, i.body, i.cid, i.ord
        FROM unnest(p_ids, p_convs, p_senders, p_kinds, p_bodies, p_cids) WITH ORDINALITY
            AS i(id, conversation_id, sender_id, kind, body, cid, ord)
    ), counts AS (
        SELECT i.conversation_id, count(*) AS n FROM input i GROUP BY i.conversation_id
    ), bumped AS (
        UPDATE conversations c SET last_seq = c.last_seq + k.n, last_message_at = p_now
        FROM counts k WHERE c.id = k.conversation_id
        RETURNING c.id, c.last_seq - k.n AS before
    ), numbered AS (
        SELECT i.*, b.before + row_number() OVER (PARTITION BY i.conversation_id ORDER BY i.ord) AS seq
        FROM input i JOIN bumped b ON b.id = i.conversation_id
    ), stored AS (
        INSERT INTO messages (id, conversation_id, seq, sender_id, kind, body, cid, created_at)
        SELECT n.id, n.conversation_id, n.seq, n.sender_id, n.kind, n.body, n.cid, p_now FROM numbered n
        RETURNING messages.id, messages.conversation_id, messages.seq, messages.sender_id
    ), read_marks AS (
        -- The senders have read their own messages: they do not count as unread for them.
        UPDATE conversation_members m SET last_read_seq = r.seq
        FROM (
            SELECT s.conversation_id, s.sender_id, max(s.seq) AS seq FROM stored s
            WHERE s.sender_id IS NOT NULL GROUP BY s.conversation_id, s.sender_id
        ) r
        WHERE m.conversation_id = r.conversation_id AND m.user_id = r.sender_id AND m.last_read_seq < r.seq
    )
    SELECT s.id::text, s.conversation_id::text, s.seq::bigint FROM stored s;
END $$
"""

_APPEND_ONE = """
CREATE OR REPLACE FUNCTION chat_append_message(
    p_id text, p_conversation text, p_sender text, p_kind text, p_body json, p_cid text,
    p_now timestamptz, OUT seq bigint, OUT members text[]
) LANGUAGE plpgsql AS $$
BEGIN
    SELECT a.message_seq INTO seq
    FROM chat_append_messages(ARRAY[p_id], ARRAY[p_conversation], ARRAY[p_sender], ARRAY[p_kind],
                              ARRAY[p_body], ARRAY[p_cid], p_now) a;
    IF NOT FOUND THEN
        PERFORM qz_raise('not_found', 'conversation not found',
            jsonb_build_object('conversation_id', p_conversation));
    END IF;
    members := chat_member_ids(p_conversation);
END $$
"""

_APPEND_ONE_BEFORE = """
CREATE OR REPLACE FUNCTION chat_append_message(
    p_id text, p_conversation text, p_sender text, p_kind text, p_body json, p_cid text,
    p_now timestamptz, OUT seq bigint, OUT members text[]
) LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversations c SET last_seq = c.last_seq + 1, last_message_at = p_now
    WHERE c.id = p_conversation RETURNING c.last_seq INTO seq;
    IF NOT FOUND THEN
        PERFORM qz_raise('not_found', 'conversation not found',
            jsonb_build_object('conversation_id', p_conversation));
    END IF;
    INSERT INTO messages (id, conversation_id, seq, sender_id, kind, body, cid, created_at)
    VALUES (p_id, p_conversation, seq, p_sender, p_kind, p_body, p_cid, p_now);
    IF p_sender IS NOT NULL THEN
        UPDATE conversation_members m SET last_read_seq = seq
        WHERE m.conversation_id = p_conversation AND m.user_id = p_sender AND m.last_read_seq < seq;
    END IF;
    members := ARRAY(SELECT m.user_id FROM conversation_members m WHERE m.conversation_id = p_conversation);
END $$
"""


def upgrade() -> None:
    op.execute(_APPEND_MANY)
    op.execute(_APPEND_ONE)


def downgrade() -> None:
    op.execute(_APPEND_ONE_BEFORE)
    op.execute("DROP FUNCTION chat_append_messages(text[], text[], text[], text[], json[], text[], timestamptz)")
