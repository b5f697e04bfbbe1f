"""Calls, whatever PBX carried them; users' extensions; the company's own numbers; leases for one-of-a-kind
processes (a PBX's event listener)

Revision ID: core_0018
Revises: core_0017
Create Date: 2026-12-05 01:21:14
"""
import sqlalchemy as sa
from alembic import op

import core.models.base

revision = 'core_0018'
down_revision = 'core_0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lease',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('expires_at', core.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('taken_at', core.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_lease'))
    )
    op.create_table('own_number',
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('seen_as_line', sa.Boolean(), nullable=False),
    sa.Column('created_at', core.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_own_number'))
    )
    op.create_table('call',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=60), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('client_number', sa.String(length=20), nullable=True),
    sa.Column('client_number_raw', sa.String(length=60), nullable=False),
    sa.Column('line_number', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('extension', sa.String(length=20), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('deal_id', sa.Integer(), nullable=True),
    sa.Column('inbox_item_id', sa.Integer(), nullable=True),
    sa.Column('started_at', core.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', core.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', core.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('wait_seconds', sa.Integer(), nullable=True),
    sa.Column('talk_seconds', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=False),
    sa.Column('last_sequence', sa.Integer(), nullable=True),
    sa.Column('last_event_at', core.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('legs', sa.JSON(), nullable=False),
    sa.Column('answered_by', sa.JSON(), nullable=False),
    sa.Column('recording_ref', sa.JSON(), nullable=True),
    sa.Column('recording_state', sa.String(length=10), nullable=False),
    sa.Column('recording_attempts', sa.Integer(), nullable=False),
    sa.Column('recording_next_at', core.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('recording_error', sa.String(length=500), nullable=False),
    sa.Column('recording_attachment_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('note_outcome', sa.String(length=40), nullable=False),
    sa.Column('note_by_id', sa.Integer(), nullable=True),
    sa.Column('toast_open', sa.Boolean(), nullable=False),
    sa.Column('callback_task_id', sa.Integer(), nullable=True),
    sa.Column('called_back_at', core.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', core.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['callback_task_id'], ['task.id'], name=op.f('fk_call_callback_task_id_task'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_call_company_id_company'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], name=op.f('fk_call_contact_id_contact'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['deal_id'], ['deal.id'], name=op.f('fk_call_deal_id_deal'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['inbox_item_id'], ['inbox_item.id'], name=op.f('fk_call_inbox_item_id_inbox_item'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['note_by_id'], ['user_account.id'], name=op.f('fk_call_note_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recording_attachment_id'], ['attachment.id'], name=op.f('fk_call_recording_attachment_id_attachment'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_call_user_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call')),
    sa.UniqueConstraint('provider', 'external_id', name=op.f('uq_call_provider_external_id'))
    )
    with op.batch_alter_table('call', schema=None) as batch_op:
        batch_op.create_index('ix_call_callback', ['callback_task_id'], unique=False)
        batch_op.create_index('ix_call_client_number', ['client_number', 'started_at'], unique=False)
        batch_op.create_index('ix_call_contact', ['contact_id', 'started_at'], unique=False)
        batch_op.create_index('ix_call_toast', ['user_id', 'id'], unique=False, postgresql_where=sa.text('toast_open'), sqlite_where=sa.text('toast_open'))
        batch_op.create_index('ix_call_recording_due', ['recording_next_at'], unique=False, postgresql_where=sa.text("recording_state = 'pending'"), sqlite_where=sa.text("recording_state = 'pending'"))
        batch_op.create_index('ix_call_started', ['started_at', 'id'], unique=False)
        batch_op.create_index('ix_call_user_started', ['user_id', 'started_at'], unique=False)
        batch_op.create_index('uq_call_reference', ['reference'], unique=True)

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('extension', sa.String(length=20), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_user_account_extension'), ['extension'])



def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_user_account_extension'), type_='unique')
        batch_op.drop_column('extension')

    with op.batch_alter_table('call', schema=None) as batch_op:
        batch_op.drop_index('uq_call_reference')
        batch_op.drop_index('ix_call_user_started')
        batch_op.drop_index('ix_call_started')
        batch_op.drop_index('ix_call_recording_due', postgresql_where=sa.text("recording_state = 'pending'"), sqlite_where=sa.text("recording_state = 'pending'"))
        batch_op.drop_index('ix_call_toast', postgresql_where=sa.text('toast_open'), sqlite_where=sa.text('toast_open'))
        batch_op.drop_index('ix_call_contact')
        batch_op.drop_index('ix_call_client_number')
        batch_op.drop_index('ix_call_callback')

    op.drop_table('call')
    op.drop_table('own_number')
    op.drop_table('lease')
