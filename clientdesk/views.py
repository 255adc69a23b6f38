"""Plain (non-admin) pages: the root redirect, the health check and error pages."""
import sqlalchemy as sa
from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from .auth import safe_next_url
from .extensions import db

bp = Blueprint("web", __name__)


@bp.route("/")
def index():
    return redirect(url_for("admin.index"))


@bp.route("/language", methods=["POST"])
def set_language():
    """Remember the interface language: on the user when signed in, in the session otherwise."""
    language = request.form.get("language", "")
    if language not in current_app.config["LANGUAGES"]:
        abort(400)
    session["language"] = language
    if current_user.is_authenticated:
        current_user.ui_language = language
        db.session.commit()
    return redirect(safe_next_url(request.form.get("next")) or url_for("admin.index"))


@bp.route("/healthz")
def healthz():
    from .broker import redis_is_up  # here, not at the top: the commands that need no Redis start without it

    try:
        db.session.execute(sa.text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError as error:
        db.session.rollback()
        database = f"down: {error.__class__.__name__}"
    redis = "ok" if redis_is_up() else "down"
    healthy = database == "ok" and redis == "ok"
    return jsonify(status="ok" if healthy else "degraded", database=database, redis=redis), 200 if healthy else 503


@bp.app_errorhandler(404)
def not_found(error):
    return render_template("errors/404.html"), 404


@bp.app_errorhandler(403)
def forbidden(error):
    return render_template("errors/403.html"), 403


@bp.app_errorhandler(413)
def too_large(error):
    return render_template("errors/413.html"), 413


@bp.app_errorhandler(500)
def server_error(error):
    return render_template("errors/500.html"), 500
