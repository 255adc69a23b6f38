"""Groups (teams): which staff see which clients."""
from ..extensions import db
from .base import Timestamps

DEFAULT_GROUP_NAME = "Everyone"

group_members = db.Table(
    "group_member",
    db.Column("group_id", db.ForeignKey("group.id", ondelete="CASCADE"), primary_key=True),
    db.Column("user_id", db.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Group(Timestamps, db.Model):
    __tablename__ = "group"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80), nullable=False, unique=True)
    description = db.Column(db.String(255))

    members = db.relationship("User", secondary=group_members, back_populates="groups", order_by="User.email")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def default(cls) -> "Group":
        """The "Everyone" group, created on first use."""
        group = db.session.execute(db.select(cls).filter_by(name=DEFAULT_GROUP_NAME)).scalar_one_or_none()
        if group is None:
            group = cls(name=DEFAULT_GROUP_NAME, description="Default team for new clients")
            db.session.add(group)
            db.session.flush()
        return group

    @classmethod
    def by_name(cls, name: str) -> "Group | None":
        return db.session.execute(db.select(cls).filter(db.func.lower(cls.name) == name.strip().lower())).scalar_one_or_none()
