"""Firm-wide default delivery (on the firm's settings), integrations and templates that use it, and a template's
client-facing contact. Existing integrations keep their own delivery settings.

Revision ID: b7e2d4a9c1f3
Revises: 4f4b4de603f0
"""
import sqlalchemy as sa
from alembic import op

revision = "b7e2d4a9c1f3"
down_revision = "4f4b4de603f0"
branch_labels = None
depends_on = None

DELIVERY_COLUMNS = ("delivery_email", "delivery_email_purchase", "delivery_email_sales", "delivery_email_misc", "attach_ubl",
                    "sftp_url", "sftp_password", "sftp_host_key", "api_url", "api_token", "credit_card_statements",
                    "delivery_method")


def upgrade():
    with op.batch_alter_table("firm_settings") as batch:
        batch.add_column(sa.Column("delivery_method", sa.String(8), nullable=False, server_default="manual"))
        batch.add_column(sa.Column("delivery_email", sa.String(254)))
        batch.add_column(sa.Column("delivery_email_purchase", sa.String(254)))
        batch.add_column(sa.Column("delivery_email_sales", sa.String(254)))
        batch.add_column(sa.Column("delivery_email_misc", sa.String(254)))
        batch.add_column(sa.Column("attach_ubl", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("sftp_url", sa.String(300)))
        batch.add_column(sa.Column("sftp_password", sa.String(200)))
        batch.add_column(sa.Column("sftp_host_key", sa.String(1000)))
        batch.add_column(sa.Column("api_url", sa.String(300)))
        batch.add_column(sa.Column("api_token", sa.String(500)))
        batch.add_column(sa.Column("credit_card_statements", sa.String(8), nullable=False, server_default="purchase"))
        batch.create_check_constraint(op.f("ck_firm_settings_delivery_method_valid"),
                                      "delivery_method IN ('manual', 'email', 'sftp', 'api')")
        batch.create_check_constraint(op.f("ck_firm_settings_credit_card_statements_valid"),
                                      "credit_card_statements IN ('purchase', 'misc')")
    with op.batch_alter_table("client_integration") as batch:
        batch.add_column(sa.Column("uses_firm_default", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("config_template") as batch:
        batch.add_column(sa.Column("uses_firm_default", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("client_facing_contact_id", sa.Integer()))
        batch.create_foreign_key(op.f("fk_config_template_client_facing_contact_id_user"), "user",
                                 ["client_facing_contact_id"], ["id"], ondelete="SET NULL")


def downgrade():
    with op.batch_alter_table("config_template") as batch:
        batch.drop_constraint(op.f("fk_config_template_client_facing_contact_id_user"), type_="foreignkey")
        batch.drop_column("client_facing_contact_id")
        batch.drop_column("uses_firm_default")
    with op.batch_alter_table("client_integration") as batch:
        batch.drop_column("uses_firm_default")
    with op.batch_alter_table("firm_settings") as batch:
        batch.drop_constraint(op.f("ck_firm_settings_credit_card_statements_valid"), type_="check")
        batch.drop_constraint(op.f("ck_firm_settings_delivery_method_valid"), type_="check")
        for column in DELIVERY_COLUMNS:
            batch.drop_column(column)
