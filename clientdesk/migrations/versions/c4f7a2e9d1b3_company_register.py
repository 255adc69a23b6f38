"""company register loads; client legal form and VAT check state

Revision ID: c4f7a2e9d1b3
Revises: c7e1a9d04b52

The register's own tables (`kbo_*`) are not created here: every `kbo load` builds a fresh set and
swaps it in (see clientdesk/models/register.py).
"""
import sqlalchemy as sa
from alembic import op

revision = "c4f7a2e9d1b3"
down_revision = "c7e1a9d04b52"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "register_load",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("extract_number", sa.String(length=20), nullable=True),
        sa.Column("snapshot_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("enterprises", sa.Integer(), nullable=False),
        sa.Column("skipped_rows", sa.Integer(), nullable=False),
        sa.Column("report_json", sa.Text(), nullable=False),
        sa.CheckConstraint("status IN ('loading', 'active', 'replaced', 'failed')", name=op.f("ck_register_load_status_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_load")),
    )
    op.create_index(op.f("ix_register_load_status"), "register_load", ["status"], unique=False)
    # Plain ADD COLUMNs (no batch table copy: that would drop the client search triggers on SQLite).
    op.add_column("client", sa.Column("legal_form", sa.String(length=120), nullable=True))
    op.add_column("client", sa.Column("vat_checked_at", sa.DateTime(), nullable=True))
    op.add_column("client", sa.Column(
        "vat_check", sa.String(length=8),
        sa.CheckConstraint("vat_check IS NULL OR vat_check IN ('pending', 'missing')", name=op.f("ck_client_vat_check_valid")),
        nullable=True,
    ))
    op.create_index(op.f("ix_client_vat_check"), "client", ["vat_check"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_client_vat_check"), table_name="client")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_client_vat_check_valid"), "client", type_="check")
    for column in ("vat_check", "vat_checked_at", "legal_form"):
        op.drop_column("client", column)
    op.drop_index(op.f("ix_register_load_status"), table_name="register_load")
    op.drop_table("register_load")
    bind = op.get_bind()
    for name in ("kbo_name_search", "kbo_code", "kbo_contact", "kbo_address", "kbo_denomination", "kbo_enterprise"):
        if sa.inspect(bind).has_table(name):
            op.execute(f"DROP TABLE {name}")
