"""The plan catalogue: clients point to a plan instead of naming one in free text; the plan the client chose

Revision ID: 5571c71a4ec3
Revises: a93cfc8cf105
Create Date: 2026-12-07 21:40:00

"""
import sqlalchemy as sa
from alembic import op

from clientdesk.search import sqlite_search_again

revision = "5571c71a4ec3"
down_revision = "a93cfc8cf105"
branch_labels = None
depends_on = None


def upgrade():
    plan = op.create_table(
        "plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("monthly_price", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("includes", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("monthly_price >= 0", name=op.f("ck_plan_monthly_price_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan")),
        sa.UniqueConstraint("name", name=op.f("uq_plan_name")),
    )
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("plan_chosen_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("plan_chosen_by", sa.String(length=300), nullable=True))
        batch_op.create_index(batch_op.f("ix_client_plan_id"), ["plan_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_client_plan_id_plan"), "plan", ["plan_id"], ["id"])
    plans_from_free_text(op.get_bind(), plan)
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_client_plan"))
        batch_op.drop_column("plan")
    search_index_again()


def search_index_again() -> None:
    """SQLite: the batch operations copied the client table without its search triggers (search.sqlite_search_again)."""
    if op.get_bind().dialect.name == "sqlite":
        sqlite_search_again(op.execute)


def plans_from_free_text(connection, plan) -> None:
    """One catalogue entry per distinct free-text plan (active, price 0.00 until an admin sets it, in name order),
    and every client pointed to its own."""
    names = connection.execute(sa.text("SELECT DISTINCT plan FROM client WHERE plan <> '' ORDER BY plan")).scalars().all()
    now = connection.execute(sa.select(sa.func.current_timestamp())).scalar()
    if names:
        connection.execute(plan.insert(), [
            {"name": name, "monthly_price": 0, "includes": "", "active": True, "sort_order": 10 * position,
             "created_at": now, "updated_at": now} for position, name in enumerate(names, start=1)])
    connection.execute(sa.text("UPDATE client SET plan_id = (SELECT plan.id FROM plan WHERE plan.name = client.plan)"))


def downgrade():
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan", sa.String(length=40), nullable=False, server_default="standard"))
    op.execute("UPDATE client SET plan = COALESCE((SELECT plan.name FROM plan WHERE plan.id = client.plan_id), 'standard')")
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.alter_column("plan", server_default=None)
        batch_op.create_index(batch_op.f("ix_client_plan"), ["plan"], unique=False)
        batch_op.drop_constraint(batch_op.f("fk_client_plan_id_plan"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_client_plan_id"))
        batch_op.drop_column("plan_chosen_by")
        batch_op.drop_column("plan_chosen_at")
        batch_op.drop_column("plan_id")
    search_index_again()
    op.drop_table("plan")
