"""The grab writes its request's idempotency record itself: BEGIN, one call, COMMIT.

- app: ``idempotency_record`` (a key's record; ``app.idempotency.service`` writes every
  record through it);
- red packets: ``red_packet_grab`` takes the request's key (``Pending.take``) and stores
  its answer with it, so the request needs no statement of its own for the key.

Revision ID: 1001
Revises: 1000
Create Date: 2026-12-07 18:50:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "1001"
down_revision: str | Sequence[str] | None = "1000"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_GRAB = "red_packet_grab(text, text, timestamptz, text, text, text, text)"
_NEW_GRAB = "red_packet_grab(text, text, timestamptz, text, text, text, text, text, text, integer)"

_RECORD = """
CREATE FUNCTION idempotency_record(
    p_user text, p_key text, p_fingerprint text, p_status integer, p_response text, p_now timestamptz
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO idempotency_keys (user_id, key, fingerprint, status_code, response_json, created_at)
    VALUES (p_user, p_key, p_fingerprint, p_status, p_response, p_now)
$$
"""

_GRAB = """
CREATE FUNCTION red_packet_grab(
    p_packet text, p_user text, p_now timestamptz, p_escrow text, p_wallet text,
    p_txn_id text, p_message_id text, p_idem_key text, p_idem_fingerprint text, p_idem_status integer,
    OUT response json, OUT amount_fen bigint, OUT remaining_count integer, OUT conversation_id text,
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
    response := json_build_object(
        'packet_id', p_packet, 'amount_fen', t.amount, 'remaining_count', t.left_count);
    IF p_idem_key IS NOT NULL THEN  -- the request's Idempotency-Key, with this answer
        PERFORM idempotency_record(p_user, p_idem_key, p_idem_fingerprint, p_idem_status,
            response::text, p_now);
    END IF;
    amount_fen := t.amount;
    remaining_count := t.left_count;
    conversation_id := t.conversation_id;
    message_seq := m.seq;
    members := m.members;
END $$
"""


def upgrade() -> None:
    op.execute(_RECORD)
    op.execute(f"DROP FUNCTION {_OLD_GRAB}")
    op.execute(_GRAB)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {_NEW_GRAB}")
    op.execute("DROP FUNCTION idempotency_record(text, text, text, integer, text, timestamptz)")
    path = Path(__file__).with_name("1000_money_functions.py")
    spec = importlib.util.spec_from_file_location("money_functions_1000", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    op.execute(next(ddl for ddl in module._FUNCTIONS if "FUNCTION red_packet_grab(" in ddl))
