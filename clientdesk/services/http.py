"""A small HTTP client for the outside parties (Peppol SMP and access point, accounting-software APIs).

Every failure is an HttpError that says what happened in words a user can act on: the HTTP status and its
standard phrase, not the server's own (a server staff pointed us at must not be able to show anything of
itself through us); `detail()` reads the server's message, for the servers of our configuration only (the
Peppol access point). `status` is None when the server could not be reached. The connection goes to an
address that `outbound` checked (services/outbound.py); redirects are not followed: a 3xx is an HttpError.
"""
import json
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

import urllib3
from flask_babel import gettext as _, lazy_gettext as _l

from .outbound import Outbound

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
        """The server's own error message, when its answer says one: for the servers of our configuration only."""
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


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def request(method: str, url: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 15,
            what: str = _l("The server"), outbound: Outbound | None = None) -> Response:
    """Send one request; 2xx answers are returned, anything else raises HttpError naming `what`.
    `outbound` decides where the request may go (None: anywhere, for addresses from the configuration);
    a destination it refuses raises ForbiddenDestination."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(_("%(what)s has no web address (http:// or https://)", what=what))
    secure = parts.scheme == "https"
    try:
        port = parts.port or (443 if secure else 80)
    except ValueError:
        raise ValueError(_("%(what)s has no valid port in its address", what=what)) from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {**(headers or {}), "Host": parts.netloc.rpartition("@")[2]}
    try:
        addresses = (outbound or Outbound.anywhere()).addresses(parts.hostname, port)
    except OSError as error:
        raise HttpError(_("%(what)s could not be reached (%(reason)s)", what=what, reason=error)) from None
    failure = None
    for address in addresses:
        tls = {"server_hostname": parts.hostname, "assert_hostname": parts.hostname} if secure else {}
        pool_class = urllib3.HTTPSConnectionPool if secure else urllib3.HTTPConnectionPool
        with pool_class(str(address), port, timeout=urllib3.Timeout(timeout), retries=False, maxsize=1, **tls) as pool:
            try:
                answer = pool.urlopen(method, path, body=body, headers=headers, redirect=False, retries=False,
                                      preload_content=False)
                content = answer.read(MAX_BODY)
                answer.release_conn()
            except urllib3.exceptions.NewConnectionError as error:
                failure = error  # this address refused: the next one may answer
                continue
            except urllib3.exceptions.HTTPError as error:
                failure = error
                break
        if not 200 <= answer.status < 300:
            raise HttpError(_("%(what)s answered HTTP %(status)d %(reason)s", what=what, status=answer.status,
                              reason=_phrase(answer.status)), answer.status, content)
        return Response(answer.status, dict(answer.headers), content)
    reason = getattr(failure, "reason", None) or failure
    raise HttpError(_("%(what)s could not be reached (%(reason)s)", what=what, reason=reason))


def json_request(method: str, url: str, payload=None, token: str | None = None, timeout: float = 15,
                 what: str = _l("The server"), outbound: Outbound | None = None) -> Response:
    headers = {"Accept": "application/json"}
    body = None
    if payload is not None:
        body = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return request(method, url, body, headers, timeout, what, outbound)
