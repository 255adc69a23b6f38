"""Change proposals: corrections a client user proposes in the portal, accepted or refused by staff

Revision ID: 842b5f6d378f
Revises: 22e949a04005
Create Date: 2026-12-07 21:50:00

"""
import sqlalchemy as sa
from alembic import op

revision = "842b5f6d378f"
down_revision = "22e949a04005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "change_proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("proposed_by_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=11), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("changes_json", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("state IN ('open', 'accepted', 'refused')", name=op.f("ck_change_proposal_state_valid")),
        sa.CheckConstraint("subject IN ('company', 'contact', 'new_contact')", name=op.f("ck_change_proposal_subject_valid")),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], name=op.f("fk_change_proposal_client_id_client"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["proposed_by_id"], ["client_user.id"], name=op.f("fk_change_proposal_proposed_by_id_client_user"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], name=op.f("fk_change_proposal_contact_id_contact"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["decided_by_id"], ["user.id"], name=op.f("fk_change_proposal_decided_by_id_user"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_proposal")),
    )
    with op.batch_alter_table("change_proposal", schema=None) as batch_op:
        for column in ("client_id", "proposed_by_id", "contact_id", "state", "decided_by_id"):
            batch_op.create_index(batch_op.f(f"ix_change_proposal_{column}"), [column], unique=False)


def downgrade():
    op.drop_table("change_proposal")
