"""The staff consoles: the staff audit log, advisors' notes on clients, escalated review items,
product cards in chat (messages.kind ``product``) and escalations in the moderation audit
(moderation_audit.action ``escalate``).

Revision ID: 0500
Revises: 0301
Create Date: 2026-12-02 09:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.dbtypes


revision: str = '0500'
down_revision: str | Sequence[str] | None = '0301'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The CHECK constraints of 0400 that gain a value, written out (a migration stays as written).
CHECKS = [
    ("messages", "kind", ("text", "image", "transfer", "red_packet", "system"), ("product",)),
    ("moderation_audit", "action", ("approve", "reject", "remove", "mute", "terms"), ("escalate",)),
]


def _check(table: str, column: str, values: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{v}'" for v in values)
    op.drop_constraint(op.f(f"ck_{table}_{column}_valid"), table, type_="check")
    op.create_check_constraint(op.f(f"ck_{table}_{column}_valid"), table, f"{column} IN ({listed})")


def upgrade() -> None:
    for table, column, before, added in CHECKS:
        _check(table, column, before + added)
    op.create_table('staff_actions',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('staff_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
    sa.Column('target_kind', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
    sa.Column('target_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_agent', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('session_id', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('created_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_actions'))
    )
    op.create_index('ix_staff_actions_staff_id_id', 'staff_actions', ['staff_id', 'id'], unique=False)
    op.create_index('ix_staff_actions_action_id', 'staff_actions', ['action', 'id'], unique=False)
    # Append-only, like moderation_audit: the database refuses UPDATE.
    op.execute(
        "CREATE FUNCTION staff_actions_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'staff_actions is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER staff_actions_no_update BEFORE UPDATE ON staff_actions "
        "FOR EACH ROW EXECUTE FUNCTION staff_actions_append_only()"
    )

    op.create_table('advisor_notes',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('client_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('advisor_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('created_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['advisor_id'], ['users.id'], name=op.f('fk_advisor_notes_advisor_id_users')),
    sa.ForeignKeyConstraint(['client_id'], ['users.id'], name=op.f('fk_advisor_notes_client_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advisor_notes'))
    )
    op.create_index('ix_advisor_notes_client_id_id', 'advisor_notes', ['client_id', 'id'], unique=False)

    op.add_column('moderation_items', sa.Column('escalated_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
    op.add_column('moderation_items', sa.Column('escalated_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table, column, before, _ in CHECKS:
        _check(table, column, before)
    op.drop_column('moderation_items', 'escalated_at')
    op.drop_column('moderation_items', 'escalated_by')
    op.drop_index('ix_advisor_notes_client_id_id', table_name='advisor_notes')
    op.drop_table('advisor_notes')
    op.execute("DROP TRIGGER IF EXISTS staff_actions_no_update ON staff_actions")
    op.execute("DROP FUNCTION IF EXISTS staff_actions_append_only()")
    op.drop_index('ix_staff_actions_action_id', table_name='staff_actions')
    op.drop_index('ix_staff_actions_staff_id_id', table_name='staff_actions')
    op.drop_table('staff_actions')
