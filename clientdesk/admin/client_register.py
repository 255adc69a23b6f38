"""The client page's "Register changes": staff apply to the client, or dismiss, what a load of the company register
changed in the register's data of the client's enterprise (clientdesk/register_changes.py). Mixed into ClientView;
the change's client is reached through the view's scoped get_one, so a client out of the user's scope (or hidden
from them) answers 404."""
from flask import abort, flash, request
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user

from .. import register_changes
from ..errors import Refused
from ..extensions import db
from ..models import RegisterChange
from .client_extras import back_to_client_page, posted_client_row


class ClientRegisterMixin:
    @expose("/register-change/", methods=("POST",))
    def register_change_view(self):
        """`decision` apply or dismiss, for the register change `id`."""
        change, client = posted_client_row(self, RegisterChange)
        decision = request.form.get("decision")
        if decision not in ("apply", "dismiss"):
            abort(400)
        try:
            if decision == "apply":
                register_changes.apply(change, current_user)
            else:
                register_changes.dismiss(change, current_user)
            db.session.commit()
        except Refused as refusal:
            db.session.rollback()
            flash(_("Not applied: %(reason)s", reason=refusal) if decision == "apply" else str(refusal), "error")
        else:
            flash(_("The register's value is copied to the client.") if decision == "apply"
                  else _("The register change is dismissed."), "success")
        return back_to_client_page(self, client, "register")
