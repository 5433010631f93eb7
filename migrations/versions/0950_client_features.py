"""Client features: removable media uploads (media.removed_at), push devices and push settings.

Revision ID: 0950
Revises: 0500
Create Date: 2026-12-10 09:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.dbtypes


revision: str = '0950'
down_revision: str | Sequence[str] | None = '0500'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('media', sa.Column('removed_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True))
    op.create_table('push_devices',
    sa.Column('token', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('created_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("platform IN ('apns', 'fcm', 'hms')", name=op.f('ck_push_devices_platform_valid')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_push_devices_user_id_users')),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_push_devices'))
    )
    op.create_index(op.f('ix_push_devices_user_id'), 'push_devices', ['user_id'], unique=False)
    op.create_table('push_settings',
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('muted', sa.JSON(), nullable=False),
    sa.Column('quiet_start', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
    sa.Column('quiet_end', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_push_settings_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_push_settings'))
    )


def downgrade() -> None:
    op.drop_table('push_settings')
    op.drop_index(op.f('ix_push_devices_user_id'), table_name='push_devices')
    op.drop_table('push_devices')
    op.drop_column('media', 'removed_at')
