"""speech levels: how loud each stretch of speech is, for loudness checks

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: calls transcribed before levels were measured keep loading (loudness checks
    # are then not applicable to them).
    with op.batch_alter_table('speech_regions') as batch:
        batch.add_column(sa.Column('level_db', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('speech_regions') as batch:
        batch.drop_column('level_db')
