"""Messages partitioned by month (declarative range partitioning on created_at).

The table is rebuilt as ``PARTITION BY RANGE (created_at)`` with one partition per UTC
month (``messages_pYYYYMM``) from the month of the oldest message to two months ahead,
and a default partition for rows outside them (the ``chat_message_partitions`` job
creates months ahead and moves any such rows into their month). PostgreSQL requires
every primary key and unique constraint of a partitioned table to include the partition
key, so ``created_at`` joins the primary key and both unique constraints; the per-
conversation order and the resend-by-cid rules are kept by the send path, which locks
the conversation and looks an earlier cid up across all months.

Revision ID: 1900
Revises: 1302
Create Date: 2026-12-07 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1900"
down_revision: str | Sequence[str] | None = "1302"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "'text', 'image', 'transfer', 'red_packet', 'system', 'product'"


def upgrade() -> None:
    op.execute("ALTER TABLE messages RENAME TO messages_unpartitioned")
    for old in (
        "pk_messages",
        "uq_messages_conversation_id_sender_id_cid",
        "uq_messages_conversation_id_seq",
        "fk_messages_conversation_id_conversations",
        "ck_messages_kind_valid",
    ):
        op.execute(f"ALTER TABLE messages_unpartitioned RENAME CONSTRAINT {old} TO {old}_old")
    op.execute(
        f"""
        CREATE TABLE messages (
            id varchar(40) NOT NULL,
            conversation_id varchar(40) NOT NULL,
            seq integer NOT NULL,
            sender_id varchar(40),
            kind varchar(16) NOT NULL,
            body json NOT NULL,
            cid varchar(64),
            created_at timestamptz NOT NULL,
            CONSTRAINT pk_messages PRIMARY KEY (id, created_at),
            CONSTRAINT uq_messages_conversation_id_seq UNIQUE (conversation_id, seq, created_at),
            CONSTRAINT uq_messages_conversation_id_sender_id_cid
                UNIQUE (conversation_id, sender_id, cid, created_at),
            CONSTRAINT fk_messages_conversation_id_conversations
                FOREIGN KEY (conversation_id) REFERENCES conversations (id),
            CONSTRAINT ck_messages_kind_valid CHECK (kind IN ({KINDS}))
        ) PARTITION BY RANGE (created_at)
        """
    )
    op.execute(
        """
        DO $$
        DECLARE
            m timestamptz;
            last timestamptz := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                                + interval '2 months';
        BEGIN
            m := least(
                coalesce(
                    (SELECT date_trunc('month', min(created_at) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                     FROM messages_unpartitioned),
                    last
                ),
                date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
            );
            WHILE m <= last LOOP
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF messages FOR VALUES FROM (%L) TO (%L)',
                    'messages_p' || to_char(m AT TIME ZONE 'UTC', 'YYYYMM'),
                    m, m + interval '1 month'
                );
                m := m + interval '1 month';
            END LOOP;
        END $$
        """
    )
    op.execute("CREATE TABLE messages_default PARTITION OF messages DEFAULT")
    op.execute("INSERT INTO messages SELECT * FROM messages_unpartitioned")
    op.execute("DROP TABLE messages_unpartitioned")


def downgrade() -> None:
    op.execute("ALTER TABLE messages RENAME TO messages_partitioned")
    op.execute(
        f"""
        CREATE TABLE messages (
            id varchar(40) NOT NULL,
            conversation_id varchar(40) NOT NULL,
            seq integer NOT NULL,
            sender_id varchar(40),
            kind varchar(16) NOT NULL,
            body json NOT NULL,
            cid varchar(64),
            created_at timestamptz NOT NULL,
            CONSTRAINT ck_messages_kind_valid_new CHECK (kind IN ({KINDS}))
        )
        """
    )
    op.execute("INSERT INTO messages SELECT * FROM messages_partitioned")
    op.execute("DROP TABLE messages_partitioned")
    op.execute("ALTER TABLE messages RENAME CONSTRAINT ck_messages_kind_valid_new TO ck_messages_kind_valid")
    op.execute("ALTER TABLE messages ADD CONSTRAINT pk_messages PRIMARY KEY (id)")
    op.execute(
        "ALTER TABLE messages ADD CONSTRAINT uq_messages_conversation_id_seq UNIQUE (conversation_id, seq)"
    )
    op.execute(
        "ALTER TABLE messages ADD CONSTRAINT uq_messages_conversation_id_sender_id_cid"
        " UNIQUE (conversation_id, sender_id, cid)"
    )
    op.execute(
        "ALTER TABLE messages ADD CONSTRAINT fk_messages_conversation_id_conversations"
        " FOREIGN KEY (conversation_id) REFERENCES conversations (id)"
    )
