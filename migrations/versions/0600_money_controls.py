"""Money controls: cards carry the bank's card reference (one user per card); one daily
outgoing total per wallet (transfers, red packets, …) replaces the transfers' own; the
bank's top-ups kept once per bank reference.

Cards linked before this revision (an unverified token's hash) keep their link under
``card_ref = 'legacy:<card id>'``; the transfers' running totals of the day carry over
as outgoing totals.

Revision ID: 0600
Revises: 0500
Create Date: 2026-12-07 18:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.dbtypes


revision: str = '0600'
down_revision: str | Sequence[str] | None = '0500'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # cards: the bank's reference, unique
    op.add_column('user_cards', sa.Column('card_ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.execute("UPDATE user_cards SET card_ref = 'legacy:' || id")
    op.alter_column('user_cards', 'card_ref', nullable=False)
    op.drop_constraint(op.f('uq_user_cards_user_id_card_token_hash'), 'user_cards', type_='unique')
    op.drop_column('user_cards', 'card_token_hash')
    op.create_unique_constraint(op.f('uq_user_cards_card_ref'), 'user_cards', ['card_ref'])

    # one daily outgoing total per wallet
    op.create_table('wallet_daily_usage',
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("kind IN ('outgoing', 'dev_topup')", name=op.f('ck_wallet_daily_usage_kind_valid')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_wallet_daily_usage_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'day', 'kind', name=op.f('pk_wallet_daily_usage'))
    )
    op.execute(
        "INSERT INTO wallet_daily_usage (user_id, day, kind, amount_fen) "
        "SELECT user_id, day, 'outgoing', sent_fen FROM transfer_daily_usage"
    )
    op.drop_table('transfer_daily_usage')

    # the bank's top-ups
    op.create_table('bank_topups',
    sa.Column('bank_ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('transaction_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('created_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_bank_topups_amount_positive')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_bank_topups_user_id_users')),
    sa.PrimaryKeyConstraint('bank_ref', name=op.f('pk_bank_topups'))
    )
    op.create_index(op.f('ix_bank_topups_user_id'), 'bank_topups', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_bank_topups_user_id'), table_name='bank_topups')
    op.drop_table('bank_topups')
    op.create_table('transfer_daily_usage',
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sent_fen', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_transfer_daily_usage_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'day', name=op.f('pk_transfer_daily_usage'))
    )
    op.execute(
        "INSERT INTO transfer_daily_usage (user_id, day, sent_fen) "
        "SELECT user_id, day, amount_fen FROM wallet_daily_usage WHERE kind = 'outgoing'"
    )
    op.drop_table('wallet_daily_usage')
    op.drop_constraint(op.f('uq_user_cards_card_ref'), 'user_cards', type_='unique')
    op.add_column('user_cards', sa.Column('card_token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.execute("UPDATE user_cards SET card_token_hash = md5(card_ref) || md5(id)")
    op.alter_column('user_cards', 'card_token_hash', nullable=False)
    op.create_unique_constraint(op.f('uq_user_cards_user_id_card_token_hash'), 'user_cards', ['user_id', 'card_token_hash'])
