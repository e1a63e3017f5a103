"""The console's aiohttp application: settings, app keys, middlewares, the store's thread.

All store access goes through one thread of its own (`in_store`), so SQLite is
never touched on the event loop nor from two threads at once; snapshots are
cached for a second, so ten dashboards cost what one does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from dialer.console import api, auth, calls, floip, live, metrics, pages
from dialer.console.context import DB, SETTINGS, SNAPSHOTS, STORE, ConsoleSettings, in_store
from dialer.console.snapshot import Snapshots
from dialer.policy.contacts import printable
from dialer.store import Store

HERE = Path(__file__).resolve().parent


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    s = app[SETTINGS]
    app[DB] = ThreadPoolExecutor(1, thread_name_prefix="store")
    app[STORE] = await in_store(app, Store, s.db, False)
    workers = None
    if s.redis_url:
        from dialer.console.workers import rq_workers

        workers = rq_workers(s.redis_url)
    app[SNAPSHOTS] = Snapshots(app[STORE], s.snapshot_ttl_s, workers)
    yield
    await in_store(app, app[STORE].close)
    app[DB].shutdown(wait=True)


@web.middleware
async def headers(request: web.Request, handler: auth.Handler) -> web.StreamResponse:
    """Nothing from elsewhere runs in the page; the page is framed by nobody."""
    response = await handler(request)
    if response.prepared:  # a stream (the live events) has sent its headers already
        return response
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; object-src 'none';"
                                " frame-ancestors 'none'; base-uri 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@web.middleware
async def authenticate(request: web.Request, handler: auth.Handler) -> web.StreamResponse:
    """A bearer token or a session cookie names who asks; nothing else passes but the
    login page, static files and /healthz."""
    if request.path == "/" or not request.path.startswith(auth.OPEN_PATHS):
        who = await _who(request)
        if who is None:
            if request.path.startswith(("/api/", "/metrics")):
                raise auth.denied(web.HTTPUnauthorized, "send Authorization: Bearer TOKEN",
                                  {"WWW-Authenticate": "Bearer"})
            raise web.HTTPSeeOther("/login")
        request[auth.WHO] = who
    return await handler(request)


async def _who(request: web.Request) -> auth.Who | None:
    app = request.app
    bearer = request.headers.get("Authorization", "")
    if bearer.startswith("Bearer "):
        token = await in_store(app, app[STORE].token_by_hash, auth.digest(bearer[7:].strip()))
        return None if token is None else auth.Who(token.name, token.role, None)
    cookie = request.cookies.get(auth.COOKIE)
    if cookie:
        session = await in_store(app, app[STORE].session, auth.digest(cookie))
        if session is not None:
            return auth.Who(session.name, session.role, session.csrf)
    return None


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def make_app(settings: ConsoleSettings) -> web.Application:
    app = web.Application(middlewares=[headers, authenticate], client_max_size=64 * 2**20)
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_store_ctx)
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                               autoescape=jinja2.select_autoescape(default=True))
    app[aiohttp_jinja2.static_root_key] = "/static"
    env.filters["printable"] = printable
    app.router.add_get("/healthz", healthz)
    app.router.add_static("/static/", HERE / "static", append_version=True)
    api.routes(app)
    calls.routes(app)
    floip.routes(app)
    live.routes(app)
    metrics.routes(app)
    pages.routes(app)
    return app
