"""The client portal (/portal/): where a client user signs in and sees their own company.

Every page reads through scoping.portal_rows (own_company, own): another company's row answers 404, whatever the
URL. The portal has its own session realm (signin.py)."""
from flask import Blueprint, abort
from flask_login import current_user

from .. import scoping
from ..extensions import db

bp = Blueprint("portal", __name__, url_prefix="/portal")


def own(model, row_id: int):
    """The signed-in client user's row of `model` with this id, else 404."""
    row = db.session.scalars(scoping.portal_rows(model, current_user).where(model.id == row_id)).one_or_none()
    if row is None:
        abort(404)
    return row


def own_company():
    """The signed-in client user's company, else 404."""
    from ..models import Client

    return own(Client, current_user.client_id)


def init_app(app) -> None:
    from ..forms.validators import format_iban
    from . import company, corrections, documents, onboarding, sign_in, users  # noqa: F401  (their routes)

    app.register_blueprint(bp)
    app.jinja_env.filters.update(format_iban=format_iban)
