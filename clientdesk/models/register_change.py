"""Register changes: what an update of the company register changed in the register's data of a client's enterprise
(its name, seat address, or whether it is still in the register), for staff to apply to the client or dismiss
(clientdesk/register_changes.py). The client's own fields are never changed by a load."""
import json

from flask_babel import lazy_gettext as _l

from ..extensions import db
from .base import LabelledEnum, choice_check, utcnow


class RegisterField(LabelledEnum):
    NAME = "name", _l("Name")
    ADDRESS = "address", _l("Seat address")
    STATUS = "status", _l("Status in the register")


class RegisterChangeState(LabelledEnum):
    OPEN = "open", _l("To review")
    APPLIED = "applied", _l("Applied to the client")
    DISMISSED = "dismissed", _l("Dismissed")


class RegisterChange(db.Model):
    __tablename__ = "register_change"
    __table_args__ = (choice_check("field", RegisterField), choice_check("state", RegisterChangeState))

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.ForeignKey("client.id", ondelete="CASCADE"), nullable=False, index=True)
    register_load_id = db.Column(db.ForeignKey("register_load.id", ondelete="SET NULL"), index=True)
    field = db.Column(db.String(7), nullable=False)
    # The register's value before and after, as JSON: a name or a status as a string, an address as
    # {street, house_number, box, postal_code, city, country}; null when the register had none.
    old_json = db.Column(db.Text, nullable=False, default="null")
    new_json = db.Column(db.Text, nullable=False, default="null")
    detected_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    state = db.Column(db.String(9), nullable=False, default=RegisterChangeState.OPEN.value, index=True)
    acknowledged_by_id = db.Column(db.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    acknowledged_at = db.Column(db.DateTime)

    client = db.relationship("Client")
    register_load = db.relationship("RegisterLoad")
    acknowledged_by = db.relationship("User")

    def __str__(self) -> str:
        return str(RegisterField(self.field).label)

    @property
    def old_value(self):
        return json.loads(self.old_json)

    @property
    def new_value(self):
        return json.loads(self.new_json)

    @property
    def field_label(self) -> str:
        return RegisterField(self.field).label

    @property
    def state_label(self) -> str:
        return RegisterChangeState(self.state).label
