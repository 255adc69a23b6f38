"""Security headers on every response (Flask-Talisman): a Content Security Policy that allows no inline script
and no framing, no MIME sniffing, a referrer policy, and HSTS when the session cookie is HTTPS-only.

Scripts come from our own static files; the few inline <script> tags of Flask-Admin's templates carry the
per-request nonce (Talisman's `csp_nonce` template global, Admin's csp_nonce_generator). Inline styles stay
allowed: progress bars and Flask-Admin's templates set widths in style attributes, and a style runs no code.
A view whose responses carry their own policy (a document's preview, documents.py) is marked with `own_policy`.
"""
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



def own_policy(view):
    """Talisman leaves the Content-Security-Policy header to this view's response (its other headers stay)."""
    return talisman(content_security_policy=None)(view)
