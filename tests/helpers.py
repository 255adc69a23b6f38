"""Helpers for HTTP tests: CSRF tokens, signing in, reading flash messages."""
import hashlib
import html as html_lib
import os
import re
from html.parser import HTMLParser

from itsdangerous import URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict

PASSWORD = "correct-horse-battery"


def csrf_token(http, url: str = "/") -> str:
    """A valid CSRF token for this test client's session of the realm of `url` (clientdesk/signin.py: the staff
    pages' or the portal's), made the way Flask-WTF makes it."""
    app = http.application
    with http.session_transaction(url.split("?")[0]) as session:
        raw = session.setdefault("csrf_token", hashlib.sha1(os.urandom(64)).hexdigest())
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def login(http, email: str, password: str = PASSWORD):
    response = http.post("/login", data={"email": email, "password": password, "csrf_token": csrf_token(http)})
    assert response.status_code == 302, f"login as {email} failed: {response.status_code}"
    return response


def post(http, url: str, data: dict | None = None, **kwargs):
    """POST with a valid CSRF token."""
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_token(http, url))
    return http.post(url, data=data, **kwargs)


def portal_login(http, email: str, password: str = PASSWORD):
    response = http.post("/portal/login", data={"email": email, "password": password,
                                                "csrf_token": csrf_token(http, "/portal/login")})
    assert response.status_code == 302, f"portal sign-in as {email} failed: {response.status_code}"
    return response


def flashes(html: str) -> list[str]:
    return [html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", m))).strip().strip("×").strip()
            for m in re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', html, re.S)]


class _FormFields(HTMLParser):
    """The fields a browser would submit from the first form with `form_class`: text, hidden and checked inputs,
    each select's selected option (else its first), textareas. Flask-Admin's hidden templates for new inline
    rows (inside `.inline-field-template`) are not part of the form a browser sends."""

    def __init__(self, form_class: str):
        super().__init__()
        self.form_class, self.fields = form_class, []
        self.in_form = self.done = False
        self.template_depth = 0
        self.select = self.textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "form" and not self.done and self.form_class in classes:
            self.in_form = True
        if not self.in_form:
            return
        if tag == "div" and (self.template_depth or "inline-field-template" in classes):
            self.template_depth += 1
        if self.template_depth or not attrs.get("name"):
            if tag == "option" and self.select is not None:
                self._option(attrs)
            return
        if tag == "input":
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind not in ("submit", "button", "file", "image", "reset"):
                self.fields.append((attrs["name"], attrs.get("value", "on" if kind in ("checkbox", "radio") else "")))
        elif tag == "select":
            self.select = {"name": attrs["name"], "first": None, "selected": []}
        elif tag == "textarea":
            self.textarea = [attrs["name"], ""]

    def _option(self, attrs):
        value = attrs.get("value", "")
        if self.select["first"] is None:
            self.select["first"] = value
        if "selected" in attrs:
            self.select["selected"].append(value)

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if not self.in_form:
            return
        if tag == "div" and self.template_depth:
            self.template_depth -= 1
        elif tag == "select" and self.select is not None:
            chosen = self.select["selected"] or [self.select["first"]]
            self.fields += [(self.select["name"], value) for value in chosen if value is not None]
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.fields.append(tuple(self.textarea))
            self.textarea = None
        elif tag == "form":
            self.in_form, self.done = False, True


def form_fields(html: str, form_class: str = "admin-form") -> MultiDict:
    """What a browser sends when the form is submitted as it is shown (html.unescape'd values)."""
    parser = _FormFields(form_class)
    parser.feed(html)
    return MultiDict(parser.fields)
