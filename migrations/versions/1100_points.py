"""Points: a currency on every ledger account and transaction (CNY, PTS) with the PTS
system accounts; points lots, draws, expiry notices, partner members and exchanges.

Revision ID: 1100
Revises: 0801
Create Date: 2026-12-10 10:00:00.000000
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.dbtypes


revision: str = '1100'
down_revision: str | Sequence[str] | None = '0801'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PTS_SYSTEM = ('points_issued', 'points_redeemed', 'points_expired', 'points_partners')


def upgrade() -> None:
    for table in ('ledger_accounts', 'ledger_transactions'):
        op.add_column(table, sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), server_default='CNY', nullable=False))
        op.create_check_constraint(op.f(f'ck_{table}_currency_valid'), table, "currency IN ('CNY', 'PTS')")
    accounts = sa.table(
        'ledger_accounts',
        sa.column('id', sa.String), sa.column('kind', sa.String), sa.column('owner_id', sa.String),
        sa.column('currency', sa.String), sa.column('balance_fen', sa.BigInteger),
        sa.column('tracks_balance', sa.Boolean), sa.column('created_at', app.dbtypes.UTCDateTime()),
    )
    now = datetime.now(UTC)
    op.bulk_insert(accounts, [
        {'id': f'system:{k}', 'kind': k, 'owner_id': None, 'currency': 'PTS', 'balance_fen': 0,
         'tracks_balance': False, 'created_at': now}
        for k in _PTS_SYSTEM
    ])

    op.create_table('points_lots',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=96), nullable=False),
    sa.Column('memo', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('counts_for_tier', sa.Boolean(), nullable=False),
    sa.Column('earned_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('transaction_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_points_lots_amount_positive')),
    sa.CheckConstraint('remaining >= 0 AND remaining <= amount', name=op.f('ck_points_lots_remaining_within_amount')),
    sa.CheckConstraint("source IN ('spending', 'milestone', 'partner', 'adjustment')", name=op.f('ck_points_lots_source_valid')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_points_lots_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_lots')),
    sa.UniqueConstraint('user_id', 'ref', name=op.f('uq_points_lots_user_id_ref'))
    )
    op.create_index('ix_points_lots_user_expiry', 'points_lots', ['user_id', 'expires_at'], unique=False)
    op.create_index('ix_points_lots_live_expiry', 'points_lots', ['expires_at'], unique=False, postgresql_where=sa.text('remaining > 0'))

    op.create_table('points_draws',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('lot_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=96), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('restored', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_points_draws_amount_positive')),
    sa.ForeignKeyConstraint(['lot_id'], ['points_lots.id'], name=op.f('fk_points_draws_lot_id_points_lots')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_points_draws_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_draws'))
    )
    op.create_index(op.f('ix_points_draws_lot_id'), 'points_draws', ['lot_id'], unique=False)
    op.create_index(op.f('ix_points_draws_ref'), 'points_draws', ['ref'], unique=False)

    op.create_table('points_expiry_notices',
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('expires_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('sent_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_points_expiry_notices_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'expires_at', name=op.f('pk_points_expiry_notices'))
    )

    op.create_table('points_partner_members',
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('programme_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('member_no', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('linked_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_points_partner_members_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'programme_id', name=op.f('pk_points_partner_members'))
    )

    op.create_table('points_exchanges',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('programme_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('member_no', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('partner_amount', sa.BigInteger(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('partner_ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('created_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('settled_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('points > 0 AND partner_amount > 0', name=op.f('ck_points_exchanges_amounts_positive')),
    sa.CheckConstraint("status IN ('pending', 'confirmed', 'refused')", name=op.f('ck_points_exchanges_status_valid')),
    sa.CheckConstraint("direction IN ('out', 'in')", name=op.f('ck_points_exchanges_direction_valid')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_points_exchanges_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_exchanges'))
    )
    op.create_index('ix_points_exchanges_due', 'points_exchanges', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_points_exchanges_user_created', 'points_exchanges', ['user_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_table('points_exchanges')
    op.drop_table('points_partner_members')
    op.drop_table('points_expiry_notices')
    op.drop_table('points_draws')
    op.drop_table('points_lots')
    op.execute(
        "DELETE FROM ledger_postings WHERE account_id IN (SELECT id FROM ledger_accounts WHERE currency = 'PTS')"
    )
    op.execute("DELETE FROM ledger_transactions WHERE currency = 'PTS'")
    op.execute("DELETE FROM ledger_accounts WHERE currency = 'PTS'")
    for table in ('ledger_transactions', 'ledger_accounts'):
        op.drop_constraint(op.f(f'ck_{table}_currency_valid'), table, type_='check')
        op.drop_column(table, 'currency')
