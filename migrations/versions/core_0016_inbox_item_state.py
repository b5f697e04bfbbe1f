"""Inbox items follow their thing's state: a call goes ringing -> answered -> ended -> recording on one item.

Revision ID: core_0016
Revises: core_0015
Create Date: 2026-12-04 16:40:00
"""
import sqlalchemy as sa
from alembic import op

from core.models.base import UTCDateTime

revision = 'core_0016'
down_revision = 'core_0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbox_item') as batch:
        batch.add_column(sa.Column('state', sa.String(length=40), server_default='', nullable=False))
        batch.add_column(sa.Column('occurred_at', UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('inbox_item') as batch:
        batch.drop_column('occurred_at')
        batch.drop_column('state')
