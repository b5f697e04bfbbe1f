"""API tokens with scopes, expiry and the reason they ended; an atomic sign-in throttle counter replaces the rows
of failed sign-ins.

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
    op.create_table('throttle_counter',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('window_start', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_throttle_counter'))
    )
    with op.batch_alter_table('throttle_counter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_throttle_counter_window_start'), ['window_start'], unique=False)

    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failure_ip_at')
        batch_op.drop_index('ix_login_failure_email_at')
    op.drop_table('login_failure')

    # tokens made before scopes existed acted with every right of their user: they keep doing so
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.JSON(), nullable=False, server_default='["read", "write"]'))
        batch_op.add_column(sa.Column('expires_at', UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('revoked_reason', sa.String(length=40), nullable=True))
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.alter_column('scopes', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('revoked_reason')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('scopes')

    op.create_table('login_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failure'))
    )
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.create_index('ix_login_failure_email_at', ['email', 'at'], unique=False)
        batch_op.create_index('ix_login_failure_ip_at', ['ip', 'at'], unique=False)

    with op.batch_alter_table('throttle_counter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_throttle_counter_window_start'))
    op.drop_table('throttle_counter')
