"""What the app accepts from a request: one hook that answers 400 to a malformed request before any view reads
it, and the typed parsing of the ids that requests carry.

Malformed: a NUL byte anywhere in the path, the query string or a form (PostgreSQL refuses it in text, so it
would otherwise fail deep inside whatever view stores or searches it), or a query-string value longer than any
id, filter, search or return URL the app builds.
"""
from flask import abort, request
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # every id column is an integer (PostgreSQL: 4 bytes, signed)
MAX_QUERY_VALUE_LENGTH = 2_000


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


def reject_malformed_requests():
    if _malformed():
        abort(400)


def init_app(app) -> None:
    """Before the blueprints and the admin screens: their routes are built with the converter, and the hook runs
    before every other one."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(reject_malformed_requests)
