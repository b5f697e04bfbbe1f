"""Webhook deliveries: what providers posted to /webhooks/<plugin>/<path>, with its outcome; a provider's
delivery id is unique per plugin (de-duplication).

Revision ID: core_0013
Revises: core_0012
Create Date: 2026-12-04 16:30:00
"""
import sqlalchemy as sa
from alembic import op

from core.models.base import UTCDateTime

revision = 'core_0013'
down_revision = 'core_0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('webhook_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plugin', sa.String(length=60), nullable=False),
    sa.Column('endpoint', sa.String(length=260), nullable=False),
    sa.Column('dedup_key', sa.String(length=200), nullable=True),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('query', sa.JSON(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('content_type', sa.String(length=200), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('body_size', sa.Integer(), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('answer', sa.JSON(), nullable=True),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('received_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery')),
    sa.UniqueConstraint('plugin', 'dedup_key', name=op.f('uq_webhook_delivery_plugin_dedup_key'))
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_delivery_plugin_id', ['plugin', 'id'], unique=False)
        batch_op.create_index('ix_webhook_delivery_received_at', ['received_at'], unique=False)
        batch_op.create_index('ix_webhook_delivery_status_id', ['status', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_delivery_status_id')
        batch_op.drop_index('ix_webhook_delivery_received_at')
        batch_op.drop_index('ix_webhook_delivery_plugin_id')
    op.drop_table('webhook_delivery')
