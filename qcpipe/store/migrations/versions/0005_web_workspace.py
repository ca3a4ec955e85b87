"""web workspace: users, sessions, login throttling, audit trail, review assignments, finding versions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa
import qcpipe.store.models


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('agent_code', sa.String(length=64), nullable=True),
    sa.Column('team', sa.String(length=100), nullable=True),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', qcpipe.store.models.UtcDateTime(), nullable=False),
    sa.Column('password_changed_at', qcpipe.store.models.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('web_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', qcpipe.store.models.UtcDateTime(), nullable=False),
    sa.Column('last_seen_at', qcpipe.store.models.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_index(op.f('ix_web_sessions_user_id'), 'web_sessions', ['user_id'], unique=False)
    op.create_table('login_failures',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failed_at', qcpipe.store.models.UtcDateTime(), nullable=False),
    sa.Column('locked_until', qcpipe.store.models.UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('username')
    )
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', qcpipe.store.models.UtcDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_id', sa.String(length=128), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_events_at', 'audit_events', ['at'], unique=False)
    op.create_index(op.f('ix_audit_events_actor'), 'audit_events', ['actor'], unique=False)
    op.create_index(op.f('ix_audit_events_action'), 'audit_events', ['action'], unique=False)
    op.create_table('review_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_pk', sa.Integer(), nullable=False),
    sa.Column('monitor', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('assigned_by', sa.String(length=64), nullable=False),
    sa.Column('assigned_at', qcpipe.store.models.UtcDateTime(), nullable=False),
    sa.Column('done_at', qcpipe.store.models.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['call_pk'], ['calls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('call_pk')
    )
    op.create_index(op.f('ix_review_assignments_monitor'), 'review_assignments', ['monitor'], unique=False)
    with op.batch_alter_table('findings') as batch:
        batch.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    # The worklist's filters: calls by agent and start (the agent is also joined for teams).
    op.create_index('ix_calls_agent_started', 'calls', ['agent_id', 'started_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_calls_agent_started', table_name='calls')
    with op.batch_alter_table('findings') as batch:
        batch.drop_column('version')
    op.drop_index(op.f('ix_review_assignments_monitor'), table_name='review_assignments')
    op.drop_table('review_assignments')
    op.drop_index(op.f('ix_audit_events_action'), table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_actor'), table_name='audit_events')
    op.drop_index('ix_audit_events_at', table_name='audit_events')
    op.drop_table('audit_events')
    op.drop_table('login_failures')
    op.drop_index(op.f('ix_web_sessions_user_id'), table_name='web_sessions')
    op.drop_table('web_sessions')
    op.drop_table('users')
