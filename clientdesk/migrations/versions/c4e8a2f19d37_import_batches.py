"""import batches: one row per client import, and the import that last created or updated each client

Revision ID: c4e8a2f19d37
Revises: c7e1a9d2b4f8
"""
import sqlalchemy as sa
from alembic import op

from clientdesk.search import SQLITE_DDL

revision = "c4e8a2f19d37"
down_revision = "c7e1a9d2b4f8"
branch_labels = None
depends_on = None

FK_NAME = "fk_client_import_batch_id_import_batch"


def upgrade():
    op.create_table(
        "import_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_email", sa.String(length=254), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("stored_path", sa.String(length=500), nullable=False),
        sa.Column("file_size", sa.Integer(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("rows_count", sa.Integer(), nullable=False),
        sa.Column("new_count", sa.Integer(), nullable=False),
        sa.Column("unchanged_count", sa.Integer(), nullable=False),
        sa.Column("changed_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("invite_count", sa.Integer(), nullable=False),
        sa.Column("errors_json", sa.Text(), nullable=False),
        sa.Column("changes_json", sa.Text(), nullable=False),
        sa.Column("invite_client_ids_json", sa.Text(), nullable=False),
        sa.Column("invite_task_id", sa.String(length=36), nullable=True),
        sa.Column("invite_error", sa.String(length=500), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'checked', 'imported', 'invalid', 'failed')",
            name=op.f("ck_import_batch_status_valid"),
        ),
        sa.ForeignKeyConstraint(["group_id"], ["group.id"], name=op.f("fk_import_batch_group_id_group"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_import_batch_user_id_user"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batch")),
    )
    op.create_index(op.f("ix_import_batch_created_at"), "import_batch", ["created_at"], unique=False)
    op.create_index(op.f("ix_import_batch_status"), "import_batch", ["status"], unique=False)
    op.create_index(op.f("ix_import_batch_user_id"), "import_batch", ["user_id"], unique=False)

    with op.batch_alter_table("client") as batch_op:
        batch_op.add_column(sa.Column("import_batch_id", sa.Integer(), nullable=True))
        batch_op.create_index(op.f("ix_client_import_batch_id"), ["import_batch_id"], unique=False)
        batch_op.create_foreign_key(FK_NAME, "import_batch", ["import_batch_id"], ["id"], ondelete="SET NULL")
    _restore_search_triggers()


def downgrade():
    with op.batch_alter_table("client") as batch_op:
        batch_op.drop_constraint(FK_NAME, type_="foreignkey")
        batch_op.drop_index(op.f("ix_client_import_batch_id"))
        batch_op.drop_column("import_batch_id")
    _restore_search_triggers()
    op.drop_index(op.f("ix_import_batch_user_id"), table_name="import_batch")
    op.drop_index(op.f("ix_import_batch_status"), table_name="import_batch")
    op.drop_index(op.f("ix_import_batch_created_at"), table_name="import_batch")
    op.drop_table("import_batch")


def _restore_search_triggers():
    """On SQLite the batch operation copies the client table, which drops the triggers that keep the
    full-text search table in step (the search table and its rows are untouched): create them again."""
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DDL[1:]:
            op.execute(statement)
