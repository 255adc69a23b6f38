"""The portal's home: the client user's company as the firm keeps it."""
from flask import render_template
from flask_login import login_required

from . import bp, own_company


@bp.route("/")
@login_required
def home():
    return render_template("portal/home.html", client=own_company())
