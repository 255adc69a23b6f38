"""Plain (non-admin) pages: the root redirect, the health check and error pages."""
from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, send_from_directory, url_for
from flask_babel import force_locale, gettext as _
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from . import i18n, signin
from .auth import safe_next_url

bp = Blueprint("web", __name__)


@bp.route("/")
def index():
    return redirect(url_for("admin.index"))


@bp.route("/favicon.ico")
def favicon():
    """Browsers ask every site for /favicon.ico, whatever the page (JSON and error pages too)."""
    return send_from_directory(current_app.static_folder, "favicon.ico", max_age=86400)


@bp.route("/language", methods=["POST"])
def set_language():
    """Remember the interface language: on the account when signed in, in the session otherwise. The portal serves
    this view too (/portal/language), so the choice lands in the realm of the page it was made on; without a `next`
    page, back to that realm's home."""
    language = request.form.get("language", "")
    if language not in current_app.config["LANGUAGES"]:
        abort(400)
    i18n.remember_language(language)
    home = "portal.home" if signin.current_realm() == signin.PORTAL else "admin.index"
    return redirect(safe_next_url(request.form.get("next")) or url_for(home))


@bp.route("/healthz")
def healthz():
    from . import health  # here, not at the top: the commands that need no Redis start without it

    report = health.check()
    return jsonify(report.as_json()), report.http_status


@bp.app_errorhandler(400)
def bad_request(error):
    return render_template("errors/400.html"), 400


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


RETRY_AFTER_SECONDS = 60


@bp.app_errorhandler(OperationalError)
@bp.app_errorhandler(DisconnectionError)
@bp.app_errorhandler(InterfaceError)
def database_unavailable(error):
    """The database is out of reach (e.g. PostgreSQL restarting), wherever the request met it, the user loader
    included. The answer needs neither the database nor the signed-in user: the page is rendered by Jinja itself,
    since Flask's render_template would run Flask-Login's context processor, which loads the user."""
    current_app.logger.warning("Database unavailable: %s", error)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    with force_locale(i18n.locale_of(i18n.visitor_language())):
        if request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json":
            return jsonify(error=_("The service is briefly unavailable, try again in a minute.")), 503, headers
        page = current_app.jinja_env.get_template("errors/503.html").render(request=request)
    return page, 503, headers
