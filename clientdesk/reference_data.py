"""Rows every installation has: the default group and the integration catalogue."""
from .extensions import db
from .models import Group
from .models.integration import ensure_catalogue


def ensure_reference_data() -> None:
    Group.default()
    ensure_catalogue()
    db.session.commit()
