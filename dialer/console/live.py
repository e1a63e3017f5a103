"""Live updates: a campaign's snapshot pushed to the page as Server-Sent Events.

One event a second per open page, each the campaign's shared snapshot (built once
a second whoever asks), so a dashboard is never more than about 2 s behind.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiohttp.client_exceptions import ClientConnectionResetError
from aiohttp_sse import sse_response

from dialer.console.api import campaign_name
from dialer.console.auth import require
from dialer.console.context import SNAPSHOTS, in_store
from survey_scripts.errors import HealthdialError

PERIOD_S = 1.0


def routes(app: web.Application) -> None:
    app.router.add_get("/api/campaigns/{name}/events", events)


async def events(request: web.Request) -> web.StreamResponse:
    require(request)
    name = campaign_name(request)
    snaps = request.app[SNAPSHOTS]
    try:
        await in_store(request.app, snaps.get, name)
    except HealthdialError as e:
        raise web.HTTPNotFound(text=json.dumps({"error": str(e)}),
                               content_type="application/json") from None
    async with sse_response(request) as stream:
        try:
            while stream.is_connected():
                snap = await in_store(request.app, snaps.get, name)
                await stream.send(json.dumps(snap), event="snapshot")
                await asyncio.sleep(PERIOD_S)
        except (ConnectionResetError, ClientConnectionResetError):
            pass  # the page was closed: nothing to tell anyone
    return stream
