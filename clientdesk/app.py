"""The application factory."""
import logging
from pathlib import Path

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import get_locale
from flask_login import current_user

from . import config
from .extensions import babel, csrf, db, login_manager, migrate


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return "en"  # jobs and commands choose theirs with flask_babel.force_locale
    if current_user.is_authenticated and current_user.ui_language in languages:
        return current_user.ui_language
    if session.get("language") in languages:
        return session["language"]
    return request.accept_languages.best_match(languages) or "en"


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(config.instance_path()), instance_relative_config=False)
    testing = bool((overrides or {}).get("TESTING"))
    app.config.update(config.from_environment(debug=app.debug, testing=testing))
    app.config.update(overrides or {})
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from . import models, search, sqlite

    models.audit.install()
    search.install()

    db.init_app(app)
    with app.app_context():
        sqlite.install(db.engine)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"), render_as_batch=True,
                     include_object=search.include_in_migrations)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = get_locale
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"

    from . import auth, invitations, views

    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(invitations.bp)

    from .admin import build_admin

    build_admin(app)

    from .cli import register_commands

    register_commands(app)
    return app
