"""ops: purge runs

Revision ID: ops_0001
Revises:
Create Date: 2026-11-23 00:39:19.411339
"""
import sqlalchemy as sa
from alembic import op

import mayak

revision = 'ops_0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('ops_purge_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ran_at', mayak.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jobs_deleted', sa.Integer(), nullable=False),
    sa.Column('events_deleted', sa.Integer(), nullable=False),
    sa.Column('notifications_deleted', sa.Integer(), nullable=False),
    sa.Column('login_failures_deleted', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ops_purge_run'))
    )



def downgrade() -> None:

    op.drop_table('ops_purge_run')

