"""Platform: login sessions with rotating refresh tokens, the shared job schedule, and
the persisted dev-clock offset.

Revision ID: 0300
Revises: 0001
Create Date: 2026-12-01 23:01:55.014861
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.dbtypes


revision: str = '0300'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('dev_clock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offset_s', sa.Float(), nullable=False),
    sa.Column('moved_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('moved_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dev_clock'))
    )
    op.create_table('job_schedule',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('next_run_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_started_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_finished_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_job_schedule'))
    )
    op.create_table('auth_sessions',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('created_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_reason', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.CheckConstraint("ended_reason IN ('logout', 'refresh_reuse')", name=op.f('ck_auth_sessions_ended_reason_valid')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auth_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sessions'))
    )
    op.create_index(op.f('ix_auth_sessions_user_id'), 'auth_sessions', ['user_id'], unique=False)
    op.create_table('auth_refresh_tokens',
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('session_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('created_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['auth_sessions.id'], name=op.f('fk_auth_refresh_tokens_session_id_auth_sessions')),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_auth_refresh_tokens'))
    )
    op.create_index(op.f('ix_auth_refresh_tokens_expires_at'), 'auth_refresh_tokens', ['expires_at'], unique=False)
    op.create_index(op.f('ix_auth_refresh_tokens_session_id'), 'auth_refresh_tokens', ['session_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_auth_refresh_tokens_session_id'), table_name='auth_refresh_tokens')
    op.drop_index(op.f('ix_auth_refresh_tokens_expires_at'), table_name='auth_refresh_tokens')
    op.drop_table('auth_refresh_tokens')
    op.drop_index(op.f('ix_auth_sessions_user_id'), table_name='auth_sessions')
    op.drop_table('auth_sessions')
    op.drop_table('job_schedule')
    op.drop_table('dev_clock')
