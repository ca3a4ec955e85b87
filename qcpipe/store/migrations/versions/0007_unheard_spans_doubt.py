"""unheard speech and doubtful findings: what ASR could not hear, and why a finding is uncertain

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'unheard_spans',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_pk', sa.Integer(), nullable=False),
        sa.Column('channel', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('start_s', sa.Float(), nullable=False),
        sa.Column('end_s', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['call_pk'], ['calls.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_unheard_call_start', 'unheard_spans', ['call_pk', 'start_s'], unique=False)
    with op.batch_alter_table('findings') as batch:
        batch.add_column(sa.Column('doubt', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('findings') as batch:
        batch.drop_column('doubt')
    op.drop_index('ix_unheard_call_start', table_name='unheard_spans')
    op.drop_table('unheard_spans')
