"""call claims: concurrent runs on one database

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa
import qcpipe.store.models


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('call_claims',
    sa.Column('call_id', sa.String(length=128), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('host', sa.String(length=128), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('claimed_at', qcpipe.store.models.UtcDateTime(), nullable=False),
    sa.Column('heartbeat_at', qcpipe.store.models.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('call_id')
    )
    op.create_index(op.f('ix_call_claims_owner'), 'call_claims', ['owner'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_call_claims_owner'), table_name='call_claims')
    op.drop_table('call_claims')
