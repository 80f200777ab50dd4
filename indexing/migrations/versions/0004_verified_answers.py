"""Verified answers (an expert's answer, served first to questions that mean the same), and
which verified answer each answer served.

Revision ID: 0004
Revises: 0003
Created: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "verified_answers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("answer_id", sa.String(length=32), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("hashes", sa.JSON(), nullable=False),
        sa.Column("verified_by", sa.String(length=128), nullable=False),
        sa.Column("verified_by_name", sa.String(length=256), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=128), nullable=True),
        sa.Column("ended_reason", sa.String(length=32), nullable=True),
        sa.Column("embedder", sa.String(length=300), nullable=False),
        sa.Column("vector", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["answer_id"], ["answers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_verified_answers_answer_id", "verified_answers", ["answer_id"])
    with op.batch_alter_table("answers") as batch_op:
        batch_op.add_column(sa.Column("verified_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("answers") as batch_op:
        batch_op.drop_column("verified_id")
    op.drop_index("ix_verified_answers_answer_id", table_name="verified_answers")
    op.drop_table("verified_answers")
