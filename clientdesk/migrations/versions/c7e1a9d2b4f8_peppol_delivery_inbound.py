"""Peppol provider details, delivery credentials, document delivery attempts and UBL, refused senders

Revision ID: c7e1a9d2b4f8
Revises: b1c2d3e4f5a6
"""
import sqlalchemy as sa
from alembic import op

revision = "c7e1a9d2b4f8"
down_revision = "b1c2d3e4f5a6"
branch_labels = None
depends_on = None

DELIVERY_SECRETS = (
    ("sftp_password", sa.String(length=200)),
    ("sftp_host_key", sa.String(length=1000)),
    ("api_token", sa.String(length=500)),
)


def upgrade():
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("peppol_other_smp", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("peppol_other_provider", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("peppol_taken_at", sa.DateTime(), nullable=True))

    for table in ("client_integration", "config_template"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, type_ in DELIVERY_SECRETS:
                batch_op.add_column(sa.Column(name, type_, nullable=True))

    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ubl_storage_path", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("ubl_filename", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("message_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_attempt_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("delivered_to", sa.String(length=300), nullable=True))
        batch_op.create_index("ix_document_client_message", ["client_id", "message_id"], unique=False)

    op.create_table(
        "refused_sender",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("envelope_sender", sa.String(length=254), nullable=True),
        sa.Column("header_from", sa.String(length=254), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], name=op.f("fk_refused_sender_client_id_client"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refused_sender")),
    )
    with op.batch_alter_table("refused_sender", schema=None) as batch_op:
        batch_op.create_index("ix_refused_sender_client_at", ["client_id", "at"], unique=False)


def downgrade():
    with op.batch_alter_table("refused_sender", schema=None) as batch_op:
        batch_op.drop_index("ix_refused_sender_client_at")
    op.drop_table("refused_sender")

    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index("ix_document_client_message")
        for name in ("delivered_to", "last_attempt_at", "attempts", "message_id", "ubl_filename", "ubl_storage_path"):
            batch_op.drop_column(name)

    for table in ("config_template", "client_integration"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _type in reversed(DELIVERY_SECRETS):
                batch_op.drop_column(name)

    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.drop_column("peppol_taken_at")
        batch_op.drop_column("peppol_other_provider")
        batch_op.drop_column("peppol_other_smp")
