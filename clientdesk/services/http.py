"""A small HTTP client for the outside parties (Peppol SMP and access point, accounting-software APIs).

Every failure is an HttpError that says what happened in words a user can act on; `status` is the
HTTP status (None when the server could not be reached) and `body` the start of its answer.
"""
import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from flask_babel import gettext as _, lazy_gettext as _l

MAX_BODY = 2 * 1024 * 1024  # answers we read are small (JSON, SMP XML); never read more


class HttpError(RuntimeError):
    def __init__(self, message: str, status: int | None = None, body: bytes = b""):
        super().__init__(message)
        self.status = status
        self.body = body

    @property
    def unreachable(self) -> bool:
        return self.status is None

    @property
    def transient(self) -> bool:
        """Worth trying again later: not reached, timed out, or the server's own trouble (5xx, 408, 429)."""
        return self.status is None or self.status >= 500 or self.status in (408, 429)

    def detail(self) -> str:
        """The server's own error message, when its answer says one."""
        try:
            data = json.loads(self.body)
        except ValueError:
            return self.body[:200].decode("utf-8", "replace").strip()
        if isinstance(data, dict):
            for key in ("error", "message", "detail"):
                if isinstance(data.get(key), str):
                    return data[key]
            errors = data.get("errors")
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                return str(errors[0].get("message", ""))
        return ""


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body) if self.body else None


def request(method: str, url: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 15,
            what: str = _l("The server")) -> Response:
    """Send one request; 2xx answers are returned, anything else raises HttpError naming `what`."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:  # noqa: S310 - URLs come from configuration
            return Response(answer.status, dict(answer.headers), answer.read(MAX_BODY))
    except urllib.error.HTTPError as error:
        content = error.read(MAX_BODY) if error.fp is not None else b""
        raise HttpError(_("%(what)s answered HTTP %(status)d %(reason)s", what=what, status=error.code, reason=error.reason),
                        error.code, content) from None
    except (urllib.error.URLError, OSError) as error:
        raise HttpError(_("%(what)s could not be reached (%(reason)s)", what=what, reason=getattr(error, "reason", error))) from None


def json_request(method: str, url: str, payload=None, token: str | None = None, timeout: float = 15,
                 what: str = _l("The server")) -> Response:
    headers = {"Accept": "application/json"}
    body = None
    if payload is not None:
        body = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return request(method, url, body, headers, timeout, what)
