"""worklist indexes: the page in its order without sorting, a call's findings by state

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The worklist's order (worst score first, unscored last, then newest): a page is read from
    # the index instead of sorting every matching call (scripts/bench_web.py, 100,000 calls).
    op.create_index('ix_calls_worklist', 'calls',
                    ['status', sa.text('(qa_score IS NULL)'), 'qa_score', sa.text('started_at DESC'), 'call_id'],
                    unique=False)
    # "Has open findings (of this rule)": answered from the index, not the findings' rows.
    op.create_index('ix_findings_call_status_rule', 'findings', ['call_pk', 'status', 'rule_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_findings_call_status_rule', table_name='findings')
    op.drop_index('ix_calls_worklist', table_name='calls')
