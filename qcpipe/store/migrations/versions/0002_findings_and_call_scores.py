"""findings and call scores

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa
import qcpipe.store.models


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_pk', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('deduction', sa.Float(), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('veto', sa.Boolean(), nullable=False),
    sa.Column('speaker', sa.String(length=16), nullable=False),
    sa.Column('start_s', sa.Float(), nullable=False),
    sa.Column('end_s', sa.Float(), nullable=False),
    sa.Column('quote', sa.Text(), nullable=False),
    sa.Column('phrase', sa.Text(), nullable=False),
    sa.Column('wording', sa.Text(), nullable=False),
    sa.Column('match_kind', sa.String(length=16), nullable=False),
    sa.Column('match_score', sa.Float(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('rulebook_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', qcpipe.store.models.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['call_pk'], ['calls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_findings_call_pk'), ['call_pk'], unique=False)
        batch_op.create_index('ix_findings_rule_status', ['rule_id', 'status'], unique=False)

    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qa_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('scored_at', qcpipe.store.models.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('rulebook_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('not_applicable', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('not_applicable')
        batch_op.drop_column('rulebook_hash')
        batch_op.drop_column('scored_at')
        batch_op.drop_column('qa_score')

    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_index('ix_findings_rule_status')
        batch_op.drop_index(batch_op.f('ix_findings_call_pk'))

    op.drop_table('findings')
