"""Clickjacking and sniffing protection on every response: a Content Security Policy without inline script and
without framing, nosniff, a referrer policy, and HSTS when the session cookie is HTTPS-only. Our pages hold no
inline script and no on*= handler (a nonce covers Flask-Admin's own inline scripts)."""
import re

import pytest

from clientdesk.models import Role

PAGES = ("/login", "/admin/", "/admin/client/", "/admin/client/details/?id={id}", "/admin/client/edit/?id={id}",
         "/admin/client/new-wizard/", "/admin/group/", "/admin/import/", "/admin/does-not-exist/", "/healthz",
         "/static/clientdesk.css")


def _directives(response) -> dict:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("page", PAGES)
def test_every_response_carries_the_security_headers(make, as_user, page):
    acme = make.client()
    response = as_user(make.user(Role.ADMIN)).get(page.format(id=acme.id))
    assert response.status_code < 500
    directives = _directives(response)
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in directives["script-src"] and "'self'" in directives["script-src"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # the session cookie is not HTTPS-only here


def test_error_answers_carry_them_too(client):
    response = client.get("/login", query_string={"next": "\x00"})
    assert response.status_code == 400 and "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_hsts_when_the_session_cookie_is_https_only(make_app):

    secure = make_app(screens=False, SESSION_COOKIE_SECURE=True)
    response = secure.test_client().get("/healthz", base_url="https://clientdesk.test")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31556926")


@pytest.mark.parametrize("page", PAGES[:8])
def test_pages_hold_no_inline_script_without_the_nonce_and_no_inline_handler(make, as_user, page):
    acme = make.client()
    response = as_user(make.user(Role.ADMIN)).get(page.format(id=acme.id))
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    for tag in re.findall(r"<script\b[^>]*>", response.text):
        assert "src=" in tag or f'nonce="{nonce}"' in tag or 'type="application/json"' in tag, tag
    # Flask-Admin's own handlers that the CSP ignores, whose work is done elsewhere: "Add filter" links (filters.js)
    # and "Add <inline row>" buttons (static/clientdesk.js).
    flask_admins = ("return false;", "faForm.addInlineField(this, ")
    handlers = [h for h in re.findall(r"""\son[a-z]+\s*=\s*["'][^"']*""", response.text) if not h.endswith(flask_admins)]
    assert not handlers
