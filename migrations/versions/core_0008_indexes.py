"""Indexes: the tasks a person finished (my day counts those done today); the board's count and sum per stage.

Revision ID: core_0008
Revises: core_0007
Create Date: 2026-11-23 04:01:19.405806
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0008'
down_revision = 'core_0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.create_index('ix_task_owner_done', ['owner_id', 'completed_at'], unique=False,
                              postgresql_where=sa.text("status = 'done'"), sqlite_where=sa.text("status = 'done'"))

    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.create_index('ix_deal_stage_amount', ['pipeline_id', 'stage_id', 'amount'], unique=False,
                              sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.drop_index('ix_deal_stage_amount', sqlite_where=sa.text('deleted_at IS NULL'),
                            postgresql_where=sa.text('deleted_at IS NULL'))
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index('ix_task_owner_done', postgresql_where=sa.text("status = 'done'"),
                            sqlite_where=sa.text("status = 'done'"))

    # ### end Alembic commands ###
