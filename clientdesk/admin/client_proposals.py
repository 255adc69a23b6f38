"""The client page's "Changes proposed": staff accept or refuse the corrections the client proposed in the portal
(clientdesk/proposals.py). Mixed into ClientView; the proposal's client is reached through the view's scoped get_one,
so a client out of the user's scope (or hidden from them) answers 404."""
from flask import abort, flash, request
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user

from .. import proposals
from ..errors import Refused
from ..extensions import db
from ..models import ChangeProposal
from .client_extras import back_to_client_page, posted_client_row


class ClientProposalsMixin:
    @expose("/proposal/", methods=("POST",))
    def proposal_view(self):
        """`decision` accept, or refuse with a `reason`, for the proposal `id`."""
        proposal, client = posted_client_row(self, ChangeProposal)
        decision = request.form.get("decision")
        if decision not in ("accept", "refuse"):
            abort(400)
        try:
            if decision == "accept":
                proposals.accept(proposal, current_user)
            else:
                proposals.refuse(proposal, current_user, request.form.get("reason", ""))
            db.session.commit()
        except Refused as refusal:
            db.session.rollback()
            flash(_("Not applied: %(reason)s", reason=refusal) if decision == "accept" else str(refusal), "error")
        else:
            flash(_("The correction is applied.") if decision == "accept" else _("The correction is refused."), "success")
        return back_to_client_page(self, client, "proposals")
