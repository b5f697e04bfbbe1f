"""Several hosts: processes say they are alive (process_beat), a job knows the execution holding it
(claim_token) and its latest queue message (message_id).

Revision ID: core_0019
Revises: core_0018
Create Date: 2026-12-05 22:00:00
"""
import sqlalchemy as sa
from alembic import op

import core.models.base

revision = 'core_0019'
down_revision = 'core_0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('job_record') as batch:
        batch.add_column(sa.Column('claim_token', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('message_id', sa.String(length=40), nullable=True))
    op.create_table(
        'process_beat',
        sa.Column('id', sa.String(length=120), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('host', sa.String(length=120), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('queues', sa.String(length=200), nullable=False),
        sa.Column('state', sa.String(length=120), nullable=False),
        sa.Column('started_at', core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('seen_at', core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('stopped_at', core.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_process_beat')),
    )
    op.create_index('ix_process_beat_role_seen', 'process_beat', ['role', 'seen_at'])


def downgrade() -> None:
    op.drop_index('ix_process_beat_role_seen', table_name='process_beat')
    op.drop_table('process_beat')
    with op.batch_alter_table('job_record') as batch:
        batch.drop_column('message_id')
        batch.drop_column('claim_token')
