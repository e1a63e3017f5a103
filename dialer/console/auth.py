"""Who may see and do what in the console: tokens, sessions, roles, CSRF, the audit log.

A token is made by `healthdial token NAME --role operator|official`, printed once,
and kept only as its SHA-256. The API and /metrics take it as `Authorization:
Bearer TOKEN`; the page logs in with it and gets a session cookie (HttpOnly,
SameSite=Strict, Secure behind TLS). State-changing requests made with the cookie
must carry the session's CSRF token (the page sends it as X-CSRF-Token); requests
with a bearer token need none, as no browser adds that header by itself.

Operators see and control campaigns, numbers masked. Officials may also create
campaigns, upload lists, keep the do-not-call list, see the follow-up list and
reveal numbers; every reveal and control action is in the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

ROLES = ("operator", "official")
COOKIE = "hd_session"
SESSION_S = 12 * 3600
OPEN_PATHS = ("/healthz", "/login", "/static/")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Who:
    name: str
    role: str
    csrf: str | None  # set for a browser session; None for a bearer token

    @property
    def official(self) -> bool:
        return self.role == "official"


WHO = web.RequestKey("who", Who)


def denied(status: type[web.HTTPClientError], message: str,
           headers: dict[str, str] | None = None) -> web.HTTPClientError:
    """An HTTP error whose body is the API's JSON error, as README says."""
    return status(text=json.dumps({"error": message}), content_type="application/json",
                  headers=headers)


def require(request: web.Request, role: str = "operator") -> Who:
    who: Who | None = request.get(WHO)
    if who is None:
        raise denied(web.HTTPUnauthorized, "log in, or send Authorization: Bearer TOKEN")
    if role == "official" and not who.official:
        raise denied(web.HTTPForbidden, "this needs an official's token")
    return who


def check_csrf(request: web.Request, who: Who, form_value: str | None = None) -> None:
    """A state-changing request from the page carries its session's CSRF token."""
    if who.csrf is None:
        return  # a bearer token: not sent by a browser on its own
    sent = request.headers.get("X-CSRF-Token") or form_value or ""
    if not hmac.compare_digest(sent, who.csrf):
        raise denied(web.HTTPForbidden, "missing or wrong CSRF token: reload the page")
