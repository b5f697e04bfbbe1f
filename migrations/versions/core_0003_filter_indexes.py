"""core: indexes for the most used list filters (city, source) in name order

Revision ID: core_0003
Revises: core_0002
Create Date: 2026-11-23 01:40:00
"""
from alembic import op

revision = 'core_0003'
down_revision = 'core_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_contact_live_city', 'contact', ['deleted_at', 'city', 'search_lf', 'id'])
    op.create_index('ix_contact_live_source', 'contact', ['deleted_at', 'source', 'search_lf', 'id'])
    op.create_index('ix_company_live_city', 'company', ['deleted_at', 'city', 'search_name', 'id'])


def downgrade() -> None:
    op.drop_index('ix_company_live_city', 'company')
    op.drop_index('ix_contact_live_source', 'contact')
    op.drop_index('ix_contact_live_city', 'contact')
