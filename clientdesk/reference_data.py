"""Rows every installation has: the default group, the integration catalogue and the firm's settings."""
from .extensions import db
from .models import FirmSettings, Group
from .models.integration import ensure_catalogue


def ensure_reference_data() -> None:
    Group.default()
    ensure_catalogue()
    FirmSettings.current()
    db.session.commit()
