"""Security headers on every response (Flask-Talisman): a Content Security Policy that allows no inline script
and no framing, no MIME sniffing, a referrer policy, and HSTS when the session cookie is HTTPS-only.

Scripts come from our own static files; the few inline <script> tags of Flask-Admin's templates carry the
per-request nonce (Talisman's `csp_nonce` template global, Admin's csp_nonce_generator). Inline styles stay
allowed: progress bars and Flask-Admin's templates set widths in style attributes, and a style runs no code.
A response with a policy of its own (a document's preview, documents.py) asks for it with `use_own_policy`.
"""
from flask import g
from flask_talisman import Talisman

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

talisman = Talisman()


def init_app(app) -> None:
    secure = app.config["SESSION_COOKIE_SECURE"]
    # Registered before Talisman's: Flask runs after_request functions last registered first, so this one comes after
    # Talisman has set the app's policy.
    app.after_request(_apply_own_policy)
    talisman.init_app(
        app,
        force_https=False,  # TLS ends at the proxy in front (README); redirecting is its job
        frame_options="DENY",
        strict_transport_security=secure,
        content_security_policy=CONTENT_SECURITY_POLICY,
        content_security_policy_nonce_in=["script-src"],
        referrer_policy="strict-origin-when-cross-origin",
        session_cookie_secure=secure,
        session_cookie_samesite=app.config["SESSION_COOKIE_SAMESITE"],
    )



def use_own_policy(policy: str) -> None:
    """This request's response carries `policy` as its Content-Security-Policy instead of the app's (an error
    answered after all, or any other response, keeps the app's)."""
    g.own_content_security_policy = policy


def _apply_own_policy(response):
    policy = g.pop("own_content_security_policy", None)
    if policy is not None:
        response.headers["Content-Security-Policy"] = policy
    return response
