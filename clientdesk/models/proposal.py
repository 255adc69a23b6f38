"""Change proposals: corrections a client user proposes in the portal to what only the firm edits (the legal name, the
address, the contacts), which staff accept or refuse on the client page (clientdesk/proposals.py)."""
import json

from flask_babel import lazy_gettext as _l

from ..extensions import db
from .base import LabelledEnum, Timestamps, choice_check


class ProposalState(LabelledEnum):
    OPEN = "open", _l("Open")
    ACCEPTED = "accepted", _l("Accepted")
    REFUSED = "refused", _l("Refused")


class ProposalSubject(LabelledEnum):
    COMPANY = "company", _l("Company")
    CONTACT = "contact", _l("Contact")
    NEW_CONTACT = "new_contact", _l("New contact")


class ChangeProposal(Timestamps, db.Model):
    __tablename__ = "change_proposal"
    __table_args__ = (choice_check("state", ProposalState), choice_check("subject", ProposalSubject))

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.ForeignKey("client.id", ondelete="CASCADE"), nullable=False, index=True)
    proposed_by_id = db.Column(db.ForeignKey("client_user.id", ondelete="SET NULL"), index=True)
    subject = db.Column(db.String(11), nullable=False)
    # The contact a "contact" proposal corrects; a removed contact leaves the proposal, which can then only be refused.
    contact_id = db.Column(db.ForeignKey("contact.id", ondelete="SET NULL"), index=True)
    # {field: [value at the time, proposed value]}, values in their stored form.
    changes_json = db.Column(db.Text, nullable=False)
    comment = db.Column(db.Text)
    state = db.Column(db.String(8), nullable=False, default=ProposalState.OPEN.value, index=True)
    decided_by_id = db.Column(db.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    decided_at = db.Column(db.DateTime)
    reason = db.Column(db.Text)

    client = db.relationship("Client")
    proposed_by = db.relationship("ClientUser")
    contact = db.relationship("Contact")
    decided_by = db.relationship("User")

    def __str__(self) -> str:
        return f"{ProposalSubject(self.subject).label}: {', '.join(self.changes)}"

    @property
    def changes(self) -> dict[str, list]:
        return json.loads(self.changes_json)

    @property
    def subject_label(self) -> str:
        return ProposalSubject(self.subject).label

    @property
    def state_label(self) -> str:
        return ProposalState(self.state).label
