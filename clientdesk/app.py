"""The application factory."""
import logging
from pathlib import Path

from flask import Flask
from flask_babel import lazy_gettext as _l
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config, i18n
from .extensions import csrf, db, login_manager, migrate


def create_app(overrides: dict | None = None, screens: bool = True) -> Flask:
    """The app; `screens=False` leaves out the admin screens, for the commands that serve no page."""
    app = Flask(__name__, instance_path=str(config.instance_path()), instance_relative_config=False)
    testing = bool((overrides or {}).get("TESTING"))
    app.config.update(config.from_environment(debug=app.debug, testing=testing))
    app.config.update(overrides or {})
    if app.config["TRUSTED_PROXIES"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from . import invitations, models, notifications, search, security_headers, sqlite, web_input

    web_input.init_app(app)
    security_headers.init_app(app)
    db.init_app(app)
    models.audit.init_app(app)
    invitations.init_app(app)
    notifications.init_app(app)
    search.init_app(app)
    sqlite.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"), render_as_batch=True,
                     include_object=search.include_in_migrations)
    csrf.init_app(app)
    i18n.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"

    from . import auth, password_reset, portal, signin, two_factor, views

    signin.init_app(app)
    login_manager.blueprint_login_views = {"portal": "portal.login"}

    app.register_blueprint(auth.bp)
    app.register_blueprint(two_factor.bp)
    app.register_blueprint(password_reset.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(invitations.bp)
    portal.init_app(app)

    if screens:
        from . import login_throttle
        from .admin import build_admin

        login_throttle.init_app(app)
        build_admin(app)

    from .cli import register_commands

    register_commands(app)
    return app
