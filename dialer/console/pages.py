"""The console's pages: login, campaigns, a campaign's live dashboard, results by district,
the do-not-call list, a new campaign, the audit log. The figures come from the JSON API
(dialer/console/api.py), live ones pushed by Server-Sent Events (live.py)."""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from dialer.console import auth
from dialer.console.api import campaign_name
from dialer.console.context import SETTINGS, STORE, in_store
from dialer.console.snapshot import campaign_list

LOGIN_ATTEMPTS_S = 1.0  # a failed login costs this long: guessing a token is slow


def routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/login", login_page)
    r.add_post("/login", login)
    r.add_post("/logout", logout)
    r.add_get("/", campaigns)
    r.add_get("/campaigns/{name}", dashboard)
    r.add_get("/campaigns/{name}/results", results)
    r.add_get("/dnc", dnc)
    r.add_get("/new", new_campaign)
    r.add_get("/audit", audit)


def _page(request: web.Request, template: str, role: str = "operator",
          **context: Any) -> web.Response:
    who = auth.require(request, role)
    return aiohttp_jinja2.render_template(template, request,
                                          {"who": who, "csrf": who.csrf or "", **context})


async def login_page(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("login.html", request, {"error": None})


async def login(request: web.Request) -> web.Response:
    """A token for a session cookie; the token itself is never stored by the page."""
    form = await request.post()
    token = str(form.get("token", "")).strip()
    app = request.app
    row = await in_store(app, app[STORE].token_by_hash, auth.digest(token)) if token else None
    if row is None:
        await _slow()
        return aiohttp_jinja2.render_template(
            "login.html", request, {"error": "That token is not valid (or has expired)."},
            status=401)
    session, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    await in_store(app, app[STORE].add_session, auth.digest(session), row.id, csrf,
                   time.time() + auth.SESSION_S)
    await in_store(app, app[STORE].audit, row.name, "login", None, None)
    response = web.HTTPSeeOther("/")
    response.set_cookie(auth.COOKIE, session, httponly=True, samesite="Strict", path="/",
                        secure=app[SETTINGS].secure_cookies, max_age=auth.SESSION_S)
    raise response


async def _slow() -> None:
    import asyncio

    await asyncio.sleep(LOGIN_ATTEMPTS_S)


async def logout(request: web.Request) -> web.Response:
    form = await request.post()
    who = auth.require(request)
    auth.check_csrf(request, who, str(form.get("csrf", "")))
    cookie = request.cookies.get(auth.COOKIE)
    if cookie:
        await in_store(request.app, request.app[STORE].end_session, auth.digest(cookie))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(auth.COOKIE, path="/")
    raise response


async def campaigns(request: web.Request) -> web.Response:
    rows = await in_store(request.app, campaign_list, request.app[STORE])
    return _page(request, "campaigns.html", campaigns=rows)


async def _campaign_page(request: web.Request, template: str) -> web.Response:
    name = campaign_name(request)
    names = await in_store(request.app, request.app[STORE].campaign_names)
    if name not in names:
        raise web.HTTPNotFound(text=f"no campaign {name!r}")
    return _page(request, template, name=name)


async def dashboard(request: web.Request) -> web.Response:
    return await _campaign_page(request, "dashboard.html")


async def results(request: web.Request) -> web.Response:
    return await _campaign_page(request, "results.html")


async def dnc(request: web.Request) -> web.Response:
    return _page(request, "dnc.html", "official")


async def new_campaign(request: web.Request) -> web.Response:
    return _page(request, "new.html", "official")


async def audit(request: web.Request) -> web.Response:
    rows = await in_store(request.app, request.app[STORE].audit_log)
    return _page(request, "audit.html", "official",
                 rows=[{**asdict(r), "when": time.strftime("%Y-%m-%d %H:%M:%S",
                                                         time.localtime(r.at))}
                       for r in rows])
