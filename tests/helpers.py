"""Helpers for HTTP tests: CSRF tokens, signing in, reading flash messages."""
import hashlib
import html as html_lib
import os
import re

from itsdangerous import URLSafeTimedSerializer

PASSWORD = "correct-horse-battery"


def csrf_token(http) -> str:
    """A valid CSRF token for this test client's session, made the way Flask-WTF makes it."""
    app = http.application
    with http.session_transaction() as session:
        raw = session.setdefault("csrf_token", hashlib.sha1(os.urandom(64)).hexdigest())
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def login(http, email: str, password: str = PASSWORD):
    response = http.post("/login", data={"email": email, "password": password, "csrf_token": csrf_token(http)})
    assert response.status_code == 302, f"login as {email} failed: {response.status_code}"
    return response


def post(http, url: str, data: dict | None = None, **kwargs):
    """POST with a valid CSRF token."""
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_token(http))
    return http.post(url, data=data, **kwargs)


def flashes(html: str) -> list[str]:
    return [html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", m))).strip().strip("×").strip()
            for m in re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', html, re.S)]
