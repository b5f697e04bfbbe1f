"""core: list indexes as partial indexes over live records; indexes for the city and source filters

PostgreSQL does not use an index on (deleted_at, search_lf, id) to return ``deleted_at IS NULL`` rows in name
order (it sorts the whole table instead); a partial index ``WHERE deleted_at IS NULL`` on (search_lf, id) it
reads in order, and so does SQLite.

Revision ID: core_0003
Revises: core_0002
Create Date: 2026-11-23 01:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0003'
down_revision = 'core_0002'
branch_labels = None
depends_on = None

LIVE = sa.text("deleted_at IS NULL")
CONTACT = {
    "ix_contact_live_lf": ["search_lf", "id"],
    "ix_contact_live_fl": ["search_fl", "id"],
    "ix_contact_live_created": ["created_at", "id"],
    "ix_contact_live_activity": ["last_activity_at", "id"],
    "ix_contact_owner_live": ["owner_id", "search_lf", "id"],
}
OLD_CONTACT = {
    "ix_contact_live_lf": ["deleted_at", "search_lf", "id"],
    "ix_contact_live_fl": ["deleted_at", "search_fl", "id"],
    "ix_contact_live_created": ["deleted_at", "created_at", "id"],
    "ix_contact_live_activity": ["deleted_at", "last_activity_at", "id"],
    "ix_contact_owner_live": ["owner_id", "deleted_at", "search_lf", "id"],
}
COMPANY = {"ix_company_live_name": ["search_name", "id"], "ix_company_live_created": ["created_at", "id"]}
OLD_COMPANY = {"ix_company_live_name": ["deleted_at", "search_name", "id"],
               "ix_company_live_created": ["deleted_at", "created_at", "id"]}


def _swap(table: str, old: dict, new: dict, partial: bool) -> None:
    for name in old:
        op.drop_index(name, table_name=table)
    for name, columns in new.items():
        where = {"sqlite_where": LIVE, "postgresql_where": LIVE} if partial else {}
        op.create_index(name, table, columns, **where)


def upgrade() -> None:
    _swap("contact", OLD_CONTACT, CONTACT, partial=True)
    _swap("company", OLD_COMPANY, COMPANY, partial=True)
    op.create_index("ix_contact_live_city", "contact", ["city", "search_lf", "id"], sqlite_where=LIVE,
                    postgresql_where=LIVE)
    op.create_index("ix_contact_live_source", "contact", ["source", "search_lf", "id"], sqlite_where=LIVE,
                    postgresql_where=LIVE)
    op.create_index("ix_company_live_city", "company", ["city", "search_name", "id"], sqlite_where=LIVE,
                    postgresql_where=LIVE)


def downgrade() -> None:
    op.drop_index("ix_company_live_city", table_name="company")
    op.drop_index("ix_contact_live_source", table_name="contact")
    op.drop_index("ix_contact_live_city", table_name="contact")
    _swap("company", COMPANY, OLD_COMPANY, partial=False)
    _swap("contact", CONTACT, OLD_CONTACT, partial=False)
