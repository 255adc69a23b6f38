"""The portal's home: the client user's company as the firm keeps it, and the onboarding checklist."""
from flask_login import login_required

from . import bp, own_company
from .onboarding import home_page


@bp.route("/")
@login_required
def home():
    return home_page(own_company())
