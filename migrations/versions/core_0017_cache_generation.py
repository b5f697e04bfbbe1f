"""Generation tokens of the reference data kept in each process's memory (users and rights, API tokens, custom
field definitions, saved views).

Revision ID: core_0017
Revises: core_0016
Create Date: 2026-12-04 23:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0017'
down_revision = 'core_0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'cache_generation',
        sa.Column('topic', sa.String(length=40), nullable=False),
        sa.Column('token', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('topic', name=op.f('pk_cache_generation')),
    )


def downgrade() -> None:
    op.drop_table('cache_generation')
