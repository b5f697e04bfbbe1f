"""Provider choices: the default provider per kind (telephony, mail, messaging:<channel>) and a choice per team.

Revision ID: core_0015
Revises: core_0014
Create Date: 2026-12-04 17:00:00
"""
import sqlalchemy as sa
from alembic import op

from core.models.base import UTCDateTime

revision = 'core_0015'
down_revision = 'core_0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('provider_choice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=60), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('provider', sa.String(length=60), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_provider_choice_team_id_team'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_choice')),
    sa.UniqueConstraint('scope', 'team_id', name=op.f('uq_provider_choice_scope_team_id'))
    )
    op.create_index('uq_provider_choice_default', 'provider_choice', ['scope'], unique=True,
                    postgresql_where=sa.text('team_id IS NULL'), sqlite_where=sa.text('team_id IS NULL'))


def downgrade() -> None:
    op.drop_index('uq_provider_choice_default', table_name='provider_choice')
    op.drop_table('provider_choice')
