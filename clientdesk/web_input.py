"""What the app accepts from a request: one hook that answers 400 to a malformed request before any view reads
it, the size of a request (MAX_CONTENT_LENGTH, or a view's own limit: size_limit), and the typed parsing of the ids
that requests carry.

Malformed: a NUL byte anywhere in the path, the query string or a form (PostgreSQL refuses it in text, so it
would otherwise fail deep inside whatever view stores or searches it), or a query-string value longer than any
id, filter, search or return URL the app builds.
"""
from flask import abort, current_app, request
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # every id column is an integer (PostgreSQL: 4 bytes, signed)
MAX_QUERY_VALUE_LENGTH = 2_000
FORM_OVERHEAD_BYTES = 64 * 1024  # a form's other fields and its multipart headers, on top of the files a limit is for


def record_id(raw) -> int | None:
    """`raw` (a string from a URL or a form) as a row id, or None when it cannot be one: not plain digits, zero, or
    more than an id column holds."""
    text = "" if raw is None else str(raw).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    pk = int(text)
    return pk if 0 < pk <= MAX_ID else None


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: a number an id column holds, else the route does not match (404)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def _malformed() -> bool:
    query = [value for _key, value in request.args.items(multi=True)]  # every value of a repeated key, not the first
    form = [value for _key, value in request.form.items(multi=True)]
    texts = [request.path, *request.args.keys(), *query, *request.form.keys(), *form,
             *(upload.filename or "" for _key, upload in request.files.items(multi=True))]
    return any("\x00" in text for text in texts) or any(len(value) > MAX_QUERY_VALUE_LENGTH for value in query)


def size_limit(setting: str):
    """Decorator of a view that takes files: its requests may be as large as the config's `setting` (bytes) plus
    FORM_OVERHEAD_BYTES, instead of MAX_CONTENT_LENGTH; a larger one answers 413 before anything reads it."""
    def mark(view):
        view.size_limit_setting = setting
        return view

    return mark


def apply_size_limit():
    setting = getattr(current_app.view_functions.get(request.endpoint), "size_limit_setting", None)
    if setting is not None:
        request.max_content_length = current_app.config[setting] + FORM_OVERHEAD_BYTES


def reject_malformed_requests():
    if _malformed():
        abort(400)


def init_app(app) -> None:
    """Before the blueprints and the admin screens: their routes are built with the converter, and the hooks run
    before every other one (the size limit first: the malformed-request hook reads the form)."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(apply_size_limit)
    app.before_request(reject_malformed_requests)
