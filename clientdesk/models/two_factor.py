"""Recovery codes of a staff user's second factor: shown once when it is set up, stored hashed, each used once."""
import secrets

import sqlalchemy as sa

from ..extensions import db
from .base import utcnow
from .invitation import hash_token

RECOVERY_CODES = 10


class RecoveryCode(db.Model):
    __tablename__ = "recovery_code"
    __audit__ = False  # recorded as the user's two_factor_* events

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True)
    # SHA-256 is enough: a code is 50 random bits, not a password a person chose.
    code_hash = db.Column(db.String(64), nullable=False)
    used_at = db.Column(db.DateTime)

    @staticmethod
    def normalised(code: str) -> str:
        return "".join(code.split()).replace("-", "").lower()

    @classmethod
    def replace_all(cls, user) -> list[str]:
        """New codes for `user` (the old ones stop working); returns them, to be shown once, as xxxxx-xxxxx."""
        cls.delete_all(user)
        codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
        db.session.add_all(cls(user_id=user.id, code_hash=hash_token(code)) for code in codes)
        return [f"{code[:5]}-{code[5:]}" for code in codes]

    @classmethod
    def delete_all(cls, user) -> None:
        db.session.execute(sa.delete(cls).where(cls.user_id == user.id))

    @classmethod
    def use(cls, user, code: str) -> bool:
        """Spend one of `user`'s unused codes; False when `code` is none of them."""
        spent = db.session.execute(sa.update(cls).where(
            cls.user_id == user.id, cls.code_hash == hash_token(cls.normalised(code)), cls.used_at.is_(None))
            .values(used_at=utcnow()).execution_options(synchronize_session=False))
        return spent.rowcount == 1

    @classmethod
    def left(cls, user) -> int:
        return db.session.scalar(sa.select(sa.func.count()).where(cls.user_id == user.id, cls.used_at.is_(None)))
