"""A campaign's FLOIP Flow Results package, served to officials as the CLI writes it:

    GET /api/campaigns/{name}/floip              the descriptor; its resource's path is
                                                 the URL below (?reveal=1 carries on)
    GET /api/campaigns/{name}/floip/responses    the response rows

Contact ids are pseudonyms unless an official asks ?reveal=1; every download is in the
audit log.
"""

from __future__ import annotations

from aiohttp import web

from dialer.campaign.floip import descriptor, rows, survey_of
from dialer.console.api import campaign_name, error, reveal_of
from dialer.console.auth import require
from dialer.console.context import STORE, in_store
from dialer.store import Store
from survey_scripts.errors import HealthdialError


def routes(app: web.Application) -> None:
    app.router.add_get("/api/campaigns/{name}/floip", package)
    app.router.add_get("/api/campaigns/{name}/floip/responses", responses)


async def package(request: web.Request) -> web.Response:
    who = require(request, "official")
    name, reveal = campaign_name(request), reveal_of(request, who)
    url = request.url.with_path(f"/api/campaigns/{name}/floip/responses").with_query(
        {"reveal": "1"} if reveal else {})
    try:
        desc = await in_store(request.app, _descriptor, request.app[STORE], name, str(url))
    except HealthdialError as e:
        return error(404, str(e))
    return web.json_response(desc)


def _descriptor(store: Store, name: str, url: str) -> dict[str, object]:
    return descriptor(store, name, survey_of(store, name), url)


def _rows(store: Store, name: str, reveal: bool) -> list[list[object]]:
    return rows(store, name, survey_of(store, name), reveal)


async def responses(request: web.Request) -> web.Response:
    who = require(request, "official")
    name, reveal = campaign_name(request), reveal_of(request, who)
    try:
        data = await in_store(request.app, _rows, request.app[STORE], name, reveal)
    except HealthdialError as e:
        return error(404, str(e))
    await in_store(request.app, request.app[STORE].audit, who.name,
                   "reveal" if reveal else "download", name, "floip responses")
    return web.json_response(data)
