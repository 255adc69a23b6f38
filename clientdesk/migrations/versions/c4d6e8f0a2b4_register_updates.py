"""Company register update extracts: the type and counts of each load; register changes flagged on clients

Revision ID: c4d6e8f0a2b4
Revises: b5d1e7a3c9f2
"""
import sqlalchemy as sa
from alembic import op

revision = "c4d6e8f0a2b4"
down_revision = "b5d1e7a3c9f2"
branch_labels = None
depends_on = None

COUNTS = ("enterprises_deleted", "enterprises_inserted", "enterprises_changed")


def upgrade():
    with op.batch_alter_table("register_load") as batch:
        batch.add_column(sa.Column("extract_type", sa.String(6), nullable=False, server_default="full"))
        for name in COUNTS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
        batch.create_check_constraint(op.f("ck_register_load_extract_type_valid"), "extract_type IN ('full', 'update')")
    op.create_table(
        "register_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("register_load_id", sa.Integer()),
        sa.Column("field", sa.String(7), nullable=False),
        sa.Column("old_json", sa.Text(), nullable=False),
        sa.Column("new_json", sa.Text(), nullable=False),
        sa.Column("detected_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(9), nullable=False),
        sa.Column("acknowledged_by_id", sa.Integer()),
        sa.Column("acknowledged_at", sa.DateTime()),
        sa.CheckConstraint("field IN ('name', 'address', 'status')", name=op.f("ck_register_change_field_valid")),
        sa.CheckConstraint("state IN ('open', 'applied', 'dismissed')", name=op.f("ck_register_change_state_valid")),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], name=op.f("fk_register_change_client_id_client"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["register_load_id"], ["register_load.id"],
                                name=op.f("fk_register_change_register_load_id_register_load"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["acknowledged_by_id"], ["user.id"], name=op.f("fk_register_change_acknowledged_by_id_user"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_change")),
    )
    for column in ("client_id", "register_load_id", "state", "acknowledged_by_id"):
        op.create_index(op.f(f"ix_register_change_{column}"), "register_change", [column], unique=False)


def downgrade():
    op.drop_table("register_change")
    with op.batch_alter_table("register_load") as batch:
        batch.drop_constraint(op.f("ck_register_load_extract_type_valid"), type_="check")
        for name in ("extract_type", *COUNTS):
            batch.drop_column(name)
