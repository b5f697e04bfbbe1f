"""core: pipelines, stages, deals, items, payments, stage history

Revision ID: core_0005
Revises: core_0004
Create Date: 2026-11-23 02:34:16.437862
"""
import sqlalchemy as sa
from alembic import op

import core.models.base

revision = 'core_0005'
down_revision = 'core_0004'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('pipeline',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipeline')),
    sa.UniqueConstraint('name', name=op.f('uq_pipeline_name'))
    )
    op.create_table('stage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('probability', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipeline.id'], name=op.f('fk_stage_pipeline_id_pipeline'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage')),
    sa.UniqueConstraint('pipeline_id', 'name', name=op.f('uq_stage_pipeline_id_name'))
    )
    with op.batch_alter_table('stage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stage_pipeline_id'), ['pipeline_id'], unique=False)

    op.create_table('deal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=False),
    sa.Column('stage_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=120), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('utm', sa.JSON(), nullable=False),
    sa.Column('expected_close', sa.Date(), nullable=True),
    sa.Column('probability', sa.Integer(), nullable=True),
    sa.Column('lost_reason', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', core.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', core.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', core.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_deal_company_id_company'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], name=op.f('fk_deal_contact_id_contact'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['user_account.id'], name=op.f('fk_deal_owner_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipeline.id'], name=op.f('fk_deal_pipeline_id_pipeline'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['stage_id'], ['stage.id'], name=op.f('fk_deal_stage_id_stage'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_deal_team_id_team'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deal'))
    )
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.create_index('ix_deal_board', ['pipeline_id', 'stage_id', 'id'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'), sqlite_where=sa.text('deleted_at IS NULL'))
        batch_op.create_index('ix_deal_company', ['company_id'], unique=False)
        batch_op.create_index('ix_deal_contact', ['contact_id'], unique=False)
        batch_op.create_index('ix_deal_owner_live', ['owner_id', 'id'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'), sqlite_where=sa.text('deleted_at IS NULL'))

    op.create_table('deal_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deal_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('price', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['deal_id'], ['deal.id'], name=op.f('fk_deal_item_deal_id_deal'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deal_item'))
    )
    with op.batch_alter_table('deal_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deal_item_deal_id'), ['deal_id'], unique=False)

    op.create_table('payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deal_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('paid_at', core.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_payment_author_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['deal_id'], ['deal.id'], name=op.f('fk_payment_deal_id_deal'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment'))
    )
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_deal_id'), ['deal_id'], unique=False)

    op.create_table('stage_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deal_id', sa.Integer(), nullable=False),
    sa.Column('from_stage_id', sa.Integer(), nullable=True),
    sa.Column('to_stage_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', core.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_stage_change_actor_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['deal_id'], ['deal.id'], name=op.f('fk_stage_change_deal_id_deal'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['from_stage_id'], ['stage.id'], name=op.f('fk_stage_change_from_stage_id_stage'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['to_stage_id'], ['stage.id'], name=op.f('fk_stage_change_to_stage_id_stage'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_change'))
    )
    with op.batch_alter_table('stage_change', schema=None) as batch_op:
        batch_op.create_index('ix_stage_change_deal', ['deal_id', 'id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('stage_change', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_change_deal')

    op.drop_table('stage_change')
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_deal_id'))

    op.drop_table('payment')
    with op.batch_alter_table('deal_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deal_item_deal_id'))

    op.drop_table('deal_item')
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.drop_index('ix_deal_owner_live', postgresql_where=sa.text('deleted_at IS NULL'), sqlite_where=sa.text('deleted_at IS NULL'))
        batch_op.drop_index('ix_deal_contact')
        batch_op.drop_index('ix_deal_company')
        batch_op.drop_index('ix_deal_board', postgresql_where=sa.text('deleted_at IS NULL'), sqlite_where=sa.text('deleted_at IS NULL'))

    op.drop_table('deal')
    with op.batch_alter_table('stage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stage_pipeline_id'))

    op.drop_table('stage')
    op.drop_table('pipeline')

