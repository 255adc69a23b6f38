"""The plan catalogue: what a client subscribes to, managed by admins. A client's plan is one of these rows;
plans no longer offered (inactive) stay on the clients who have them."""
import sqlalchemy as sa

from ..extensions import db
from .base import Timestamps


class Plan(Timestamps, db.Model):
    __tablename__ = "plan"
    __table_args__ = (sa.CheckConstraint("monthly_price >= 0", name="monthly_price_not_negative"),)

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(40), nullable=False, unique=True)
    monthly_price = db.Column(db.Numeric(10, 2), nullable=False, default=0)  # EUR, VAT excluded
    includes = db.Column(db.Text, nullable=False, default="")
    active = db.Column(db.Boolean, nullable=False, default=True)
    sort_order = db.Column(db.Integer, nullable=False, default=0)

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def offered():
        """The plans a new choice may pick, in the catalogue's order."""
        return sa.select(Plan).where(Plan.active.is_(True)).order_by(Plan.sort_order, Plan.name)

    @staticmethod
    def default() -> "Plan | None":
        """The plan a trial starts on when the client has none: the first one offered."""
        return db.session.scalars(Plan.offered().limit(1)).first()
