"""Money and chat functions plan once per connection, not at every call.

Measured on a grab (``track_functions = all``, one connection, 2 000 grabs): a third of
its database time was planning.

- Scalar SQL functions whose body holds a subquery (``EXISTS``, ``ARRAY(…)``) or reads a
  table are never inlined, and called from PL/pgSQL they are parsed and planned again in
  every transaction (their plan lives in the calling expression's per-transaction
  state): ``chat_is_member`` 0.08–0.10 ms a call, ``chat_member_ids`` 0.10–0.12,
  ``friends_may_send_money`` 0.14–0.17. The same bodies in PL/pgSQL keep their plans for
  the connection (0.02, 0.05, 0.03 ms). The one-INSERT SQL functions the money functions
  call (``idempotency_record``, ``notification_add``, ``ledger_open_account``) likewise.
- The statements of ``ledger_post`` and its callers take arrays (``unnest(p_accounts)``):
  on a generic plan PostgreSQL guesses 10–100 elements where a custom plan sees two, so
  the plan cache never settles on the generic plan and plans each statement at each call
  (``ledger_post`` 0.56–0.64 → 0.35 ms a call with generic plans). The functions the
  service calls run with ``plan_cache_mode = force_generic_plan`` (it holds for the
  functions they call): every statement in them is a lookup by key, whose generic plan
  is the plan.
- A generic plan is made once per connection from the statistics of that moment: on a
  new database (no ANALYZE yet) PostgreSQL planned ``ledger_accounts``, ``conversations``
  and ``conversation_members`` lookups as sequential scans and kept them (a grab read
  ~8 000 rows). The same functions run with ``enable_seqscan = off``: their statements
  reach rows by key, and an index is what they mean. It is a cost penalty, not a ban —
  a table without a usable index is still scanned. And ``jit = off``: such a penalised
  plan costs past ``jit_above_cost``, and compiling it took ~1 s per call.
- Two lookups never used their index, on any plan: the friendship of two people
  (``friends_may_send_money``) and their direct conversation
  (``chat_direct_conversation_id``) compared the columns with keys ordered under
  ``COLLATE "C"`` (as the service orders them), so the comparison ran under "C" and the
  indexes, built under the database's collation, did not apply: every transfer and
  red packet scanned ``friendships``, every transfer without a conversation id scanned
  ``conversations``. The ordered keys are now compared under the columns' own collation
  (equality is the same under any deterministic collation).

Same signatures, same rules, same errors.

Revision ID: 2054
Revises: 2053
Create Date: 2026-12-08 02:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "2054"
down_revision: str | Sequence[str] | None = "2053"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (signature, old LANGUAGE sql body, new PL/pgSQL body); the declarations around them are shared.
_FUNCTIONS = [
    (
        "chat_is_member(p_conversation text, p_user text) RETURNS boolean STABLE",
        """SELECT EXISTS (SELECT 1 FROM conversation_members m
                   WHERE m.conversation_id = p_conversation AND m.user_id = p_user)""",
        """BEGIN
    RETURN EXISTS (SELECT 1 FROM conversation_members m
                   WHERE m.conversation_id = p_conversation AND m.user_id = p_user);
END""",
    ),
    (
        "chat_member_ids(p_conversation text) RETURNS text[] STABLE",
        "SELECT ARRAY(SELECT m.user_id FROM conversation_members m WHERE m.conversation_id = p_conversation)",
        """BEGIN
    RETURN ARRAY(SELECT m.user_id FROM conversation_members m WHERE m.conversation_id = p_conversation);
END""",
    ),
    (
        "chat_conversation_kind(p_conversation text) RETURNS text STABLE",
        "SELECT c.kind FROM conversations c WHERE c.id = p_conversation",
        """BEGIN
    RETURN (SELECT c.kind FROM conversations c WHERE c.id = p_conversation);
END""",
    ),
    (
        "chat_direct_conversation_id(p_a text, p_b text) RETURNS text STABLE",
        """SELECT c.id FROM conversations c
    WHERE c.direct_key = least(p_a COLLATE "C", p_b COLLATE "C") || '|'
                         || greatest(p_a COLLATE "C", p_b COLLATE "C")""",
        """BEGIN
    RETURN (SELECT c.id FROM conversations c
            WHERE c.direct_key = (least(p_a COLLATE "C", p_b COLLATE "C") || '|'
                                  || greatest(p_a COLLATE "C", p_b COLLATE "C")) COLLATE "default");
END""",
    ),
    (
        "friends_may_send_money(p_sender text, p_receiver text, p_friends_only boolean) RETURNS boolean STABLE",
        """SELECT CASE WHEN p_sender = p_receiver THEN NOT p_friends_only ELSE
        (NOT p_friends_only OR EXISTS (
            SELECT 1 FROM friendships f
            WHERE f.user_lo = least(p_sender COLLATE "C", p_receiver COLLATE "C")
              AND f.user_hi = greatest(p_sender COLLATE "C", p_receiver COLLATE "C")))
        AND NOT EXISTS (
            SELECT 1 FROM blocks b
            WHERE (b.blocker_id = p_sender AND b.blocked_id = p_receiver)
               OR (b.blocker_id = p_receiver AND b.blocked_id = p_sender))
    END""",
        """BEGIN
    IF p_sender = p_receiver THEN
        RETURN NOT p_friends_only;
    END IF;
    RETURN (NOT p_friends_only OR EXISTS (
            SELECT 1 FROM friendships f
            WHERE f.user_lo = least(p_sender COLLATE "C", p_receiver COLLATE "C") COLLATE "default"
              AND f.user_hi = greatest(p_sender COLLATE "C", p_receiver COLLATE "C") COLLATE "default"))
        AND NOT EXISTS (
            SELECT 1 FROM blocks b
            WHERE (b.blocker_id = p_sender AND b.blocked_id = p_receiver)
               OR (b.blocker_id = p_receiver AND b.blocked_id = p_sender));
END""",
    ),
    (
        "idempotency_record(p_user text, p_key text, p_fingerprint text, p_status integer,"
        " p_response text, p_now timestamptz) RETURNS void VOLATILE",
        """INSERT INTO idempotency_keys (user_id, key, fingerprint, status_code, response_json, created_at)
    VALUES (p_user, p_key, p_fingerprint, p_status, p_response, p_now)""",
        """BEGIN
    INSERT INTO idempotency_keys (user_id, key, fingerprint, status_code, response_json, created_at)
    VALUES (p_user, p_key, p_fingerprint, p_status, p_response, p_now);
END""",
    ),
    (
        "notification_add(p_id text, p_user text, p_kind text, p_data json, p_now timestamptz)"
        " RETURNS void VOLATILE",
        """INSERT INTO notifications (id, user_id, kind, data, read_at, created_at)
    VALUES (p_id, p_user, p_kind, p_data, NULL, p_now)""",
        """BEGIN
    INSERT INTO notifications (id, user_id, kind, data, read_at, created_at)
    VALUES (p_id, p_user, p_kind, p_data, NULL, p_now);
END""",
    ),
    (
        "ledger_open_account(p_id text, p_kind text, p_owner text, p_tracks_balance boolean,"
        " p_now timestamptz, p_currency text DEFAULT 'CNY') RETURNS void VOLATILE",
        """INSERT INTO ledger_accounts (id, kind, owner_id, currency, balance_fen, tracks_balance, created_at)
    VALUES (p_id, p_kind, p_owner, p_currency, 0, p_tracks_balance, p_now)
    ON CONFLICT (id) DO NOTHING""",
        """BEGIN
    INSERT INTO ledger_accounts (id, kind, owner_id, currency, balance_fen, tracks_balance, created_at)
    VALUES (p_id, p_kind, p_owner, p_currency, 0, p_tracks_balance, p_now)
    ON CONFLICT (id) DO NOTHING;
END""",
    ),
]

# The functions the service calls (and the ones also called on their own): generic plans.
_GENERIC = [
    "red_packet_grab",
    "red_packet_refuse",
    "red_packet_create",
    "transfer_create",
    "transfer_settle",
    "ledger_post",
    "chat_append_messages",
    "chat_append_message",
    "wallet_count_daily",
    "wallet_count_outgoing",
    "campaign_hold",
]


def _create(signature: str, language: str, body: str) -> str:
    head, _, volatility = signature.rpartition(" ")
    return f"CREATE OR REPLACE FUNCTION {head} LANGUAGE {language} {volatility} AS $$\n{body}\n$$"


def upgrade() -> None:
    for signature, _, plpgsql in _FUNCTIONS:
        op.execute(_create(signature, "plpgsql", plpgsql))
    for name in _GENERIC:
        op.execute(f"ALTER FUNCTION {name} SET plan_cache_mode = force_generic_plan")
        op.execute(f"ALTER FUNCTION {name} SET enable_seqscan = off")
        op.execute(f"ALTER FUNCTION {name} SET jit = off")


def downgrade() -> None:
    for name in _GENERIC:
        op.execute(f"ALTER FUNCTION {name} RESET ALL")
    for signature, sql, _ in _FUNCTIONS:
        op.execute(_create(signature, "sql", sql))
