"""core: companies remember which company they were merged into (for undo)

Revision ID: core_0004
Revises: core_0003
Create Date: 2026-11-23 01:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0004'
down_revision = 'core_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_company_merged_into_id_company'), 'company', ['merged_into_id'],
                                    ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_company_merged_into_id_company'), type_='foreignkey')
        batch_op.drop_column('merged_into_id')
