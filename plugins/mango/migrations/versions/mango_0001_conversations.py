"""mango: conversations

Revision ID: mango_0001
Revises:
Create Date: 2026-12-05 01:44:18.326345
"""
import sqlalchemy as sa
from alembic import op

import mayak

revision = 'mango_0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mango_entry',
    sa.Column('entry_id', sa.String(length=200), nullable=False),
    sa.Column('legs', sa.JSON(), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('answered_ts', sa.BigInteger(), nullable=True),
    sa.Column('ended_ts', sa.BigInteger(), nullable=True),
    sa.Column('summarised', sa.Boolean(), nullable=False),
    sa.Column('routed', sa.Boolean(), nullable=False),
    sa.Column('pending', sa.JSON(), nullable=False),
    sa.Column('touched_at', mayak.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_mango_entry'))
    )
    with op.batch_alter_table('mango_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mango_entry_touched_at'), ['touched_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('mango_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mango_entry_touched_at'))

    op.drop_table('mango_entry')
