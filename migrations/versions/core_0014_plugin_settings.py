"""Plugin settings changed in the admin pages, and each user's settings for a plugin (secret values encrypted).

Revision ID: core_0014
Revises: core_0013
Create Date: 2026-12-04 16:30:00
"""
import sqlalchemy as sa
from alembic import op

from core.models.base import UTCDateTime

revision = 'core_0014'
down_revision = 'core_0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('plugin_setting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plugin', sa.String(length=100), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('secret', sa.Boolean(), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_plugin_setting_updated_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plugin_setting')),
    sa.UniqueConstraint('plugin', 'key', name=op.f('uq_plugin_setting_plugin_key'))
    )
    op.create_table('user_plugin_setting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('plugin', sa.String(length=100), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('secret', sa.Boolean(), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_user_plugin_setting_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_plugin_setting')),
    sa.UniqueConstraint('user_id', 'plugin', 'key', name=op.f('uq_user_plugin_setting_user_id_plugin_key'))
    )


def downgrade() -> None:
    op.drop_table('user_plugin_setting')
    op.drop_table('plugin_setting')
