"""Companies' phones and emails indexed apart from people's: the old indexes were mostly NULLs, so planners
scanned the table to find a company's few phones.

Revision ID: core_0010
Revises: core_0009
Create Date: 2026-11-23 04:33:04.889847
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0010'
down_revision = 'core_0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("phone", "email"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_company_id")
            batch_op.create_index(f"ix_{table}_company_id", ["company_id"], unique=False,
                                  sqlite_where=sa.text("company_id IS NOT NULL"),
                                  postgresql_where=sa.text("company_id IS NOT NULL"))


def downgrade() -> None:
    for table in ("phone", "email"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_company_id", sqlite_where=sa.text("company_id IS NOT NULL"),
                                postgresql_where=sa.text("company_id IS NOT NULL"))
            batch_op.create_index(f"ix_{table}_company_id", ["company_id"], unique=False)
