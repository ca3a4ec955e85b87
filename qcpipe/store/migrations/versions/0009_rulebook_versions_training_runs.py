"""web workspace II: published rulebook versions, training examples, nightly job runs, retry marks

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa
import qcpipe.store.models


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rulebook_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('yaml', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('published_by', sa.String(length=64), nullable=False),
    sa.Column('published_at', qcpipe.store.models.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    op.create_index(op.f('ix_rulebook_versions_content_hash'), 'rulebook_versions', ['content_hash'], unique=False)
    op.create_table('training_examples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('marked_by', sa.String(length=64), nullable=False),
    sa.Column('marked_at', qcpipe.store.models.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('finding_id')
    )
    op.create_table('batch_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('host', sa.String(length=128), nullable=False),
    sa.Column('started_at', qcpipe.store.models.UtcDateTime(), nullable=False),
    sa.Column('finished_at', qcpipe.store.models.UtcDateTime(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('calls_done', sa.Integer(), nullable=False),
    sa.Column('calls_skipped', sa.Integer(), nullable=False),
    sa.Column('calls_failed', sa.Integer(), nullable=False),
    sa.Column('audio_s', sa.Float(), nullable=False),
    sa.Column('wall_s', sa.Float(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_batch_runs_started_at', 'batch_runs', ['started_at'], unique=False)
    with op.batch_alter_table('calls') as batch:
        batch.add_column(sa.Column('retry_requested_at', qcpipe.store.models.UtcDateTime(), nullable=True))
        batch.add_column(sa.Column('retry_requested_by', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('calls') as batch:
        batch.drop_column('retry_requested_by')
        batch.drop_column('retry_requested_at')
    op.drop_index('ix_batch_runs_started_at', table_name='batch_runs')
    op.drop_table('batch_runs')
    op.drop_table('training_examples')
    op.drop_index(op.f('ix_rulebook_versions_content_hash'), table_name='rulebook_versions')
    op.drop_table('rulebook_versions')
