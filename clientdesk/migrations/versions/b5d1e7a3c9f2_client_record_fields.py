"""The client record's missing fields: company type, parent company, address line 2, billing address "same as the
company address"; the contact's switchboard phone and where the contact came from

Revision ID: b5d1e7a3c9f2
Revises: b7c1d9e2f3a4
"""
import sqlalchemy as sa
from alembic import op

from clientdesk.search import sqlite_search_again

revision = "b5d1e7a3c9f2"
down_revision = "b7c1d9e2f3a4"
branch_labels = None
depends_on = None

COMPANY_TYPES = "'company', 'sole_trader', 'non_profit', 'public_body', 'other'"
SOURCES = "'website', 'referral', 'event', 'import', 'other'"


def upgrade():
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("company_type", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("address_line2", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("billing_same_as_address", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("billing_address_line2", sa.String(length=120), nullable=True))
        batch_op.create_check_constraint(op.f("ck_client_company_type_valid"),
                                         f"company_type IS NULL OR company_type IN ({COMPANY_TYPES})")
        batch_op.create_index(batch_op.f("ix_client_parent_id"), ["parent_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_client_parent_id_client"), "client", ["parent_id"], ["id"],
                                    ondelete="SET NULL")
    # A client with a whole billing address of its own keeps it; the others are billed at the company address.
    op.execute("UPDATE client SET billing_same_as_address = false WHERE COALESCE(billing_street, '') != '' "
               "AND COALESCE(billing_postal_code, '') != '' AND COALESCE(billing_city, '') != ''")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("switchboard_phone", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=8), nullable=True))
        batch_op.create_check_constraint(op.f("ck_contact_source_valid"), f"source IS NULL OR source IN ({SOURCES})")
    _search_index_again()


def downgrade():
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_contact_source_valid"), type_="check")
        batch_op.drop_column("source")
        batch_op.drop_column("switchboard_phone")
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_client_parent_id_client"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_client_parent_id"))
        batch_op.drop_constraint(op.f("ck_client_company_type_valid"), type_="check")
        batch_op.drop_column("billing_address_line2")
        batch_op.drop_column("billing_same_as_address")
        batch_op.drop_column("address_line2")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("company_type")
    _search_index_again()


def _search_index_again() -> None:
    """SQLite: the batch operations copied the client table without its search triggers (search.sqlite_search_again)."""
    if op.get_bind().dialect.name == "sqlite":
        sqlite_search_again(op.execute)
