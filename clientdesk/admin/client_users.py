"""The "Users" tab of the client page: the company's client users (portal accounts) and the colleagues they invited;
staff who may edit the client deactivate a client user (their sessions end) or give them access again. Mixed into
ClientView: the client is reached through the view's scoped get_one, so a client outside the user's scope answers
404 whatever client user id is posted."""
from flask import abort, flash, request
from flask_admin import expose
from flask_babel import gettext as _

from .. import client_users
from ..errors import Refused
from ..extensions import db
from ..models import ClientUser
from .client_extras import back_to_client_page, posted_client_row


class ClientUsersMixin:
    @expose("/client-user/", methods=("POST",))
    def client_user_view(self):
        """`id`: the client user; `active`: 1 gives access again, 0 deactivates."""
        client_user, client = posted_client_row(self, ClientUser)
        if not self.can_edit:
            abort(403)
        active = request.form.get("active") == "1"
        try:
            client_users.set_active(client_user, active)
            db.session.commit()
        except Refused as refusal:
            db.session.rollback()
            flash(str(refusal), "error")
        else:
            flash(_("%(name)s can sign in again.", name=client_user) if active
                  else _("%(name)s can no longer sign in: their sessions have ended.", name=client_user), "success")
        return back_to_client_page(self, client, "users")
