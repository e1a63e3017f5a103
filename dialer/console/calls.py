"""Recorded calls in the console: officials only, every listening written to the audit log.

    GET /api/campaigns/{name}/recordings    ?question=&decision=  calls recorded (masked)
    GET /api/campaigns/{name}/worst         ?question=Q  that question's worst recorded turns
    GET /api/recordings/{id}                the call's turn log
    GET /api/recordings/{id}/audio          the stereo FLAC (robot left, callee right)
    /campaigns/{name}/calls, /recordings/{id}   the pages
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from dialer.console.api import campaign_name, error
from dialer.console.auth import require
from dialer.console.context import STORE, in_store
from dialer.policy.contacts import mask
from dialer.store.rows import RecordingRow
from survey_scripts.errors import HealthdialError


def routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/campaigns/{name}/recordings", recordings)
    r.add_get("/api/campaigns/{name}/worst", worst)
    r.add_get("/api/recordings/{id}", recording_log)
    r.add_get("/api/recordings/{id}/audio", recording_audio)
    r.add_get("/campaigns/{name}/calls", calls_page)
    r.add_get("/recordings/{id}", recording_page)


def _row(r: RecordingRow) -> dict[str, Any]:
    return {"id": r.id, "attempt": r.attempt_id, "phone": mask(r.e164 or "", r.ext or ""),
            "started": r.started, "duration_s": r.duration, "outcome": r.outcome}


async def recordings(request: web.Request) -> web.Response:
    require(request, "official")
    name = campaign_name(request)
    q, d = request.query.get("question") or None, request.query.get("decision") or None
    try:
        rows = await in_store(request.app, request.app[STORE].recordings_of, name, q, d)
    except HealthdialError as e:
        return error(404, str(e))
    return web.json_response([_row(r) for r in rows])


async def worst(request: web.Request) -> web.Response:
    """The worst turns of a question: reprompted and rejected ones, then the least sure."""
    require(request, "official")
    name, question = campaign_name(request), request.query.get("question", "")
    rows = await in_store(request.app, request.app[STORE].worst_turns, name, question)
    return web.json_response([{"recording": r.recording_id, "attempt": r.attempt_id,
                               "turn": r.turn + 1, "decision": r.decision,
                               "confidence": r.confidence, "rejected": bool(r.rejected),
                               "at_s": r.at_s} for r in rows])


def _files_there(*paths: str) -> bool:
    return all(Path(p).is_file() for p in paths)


async def _recording(request: web.Request) -> RecordingRow:
    require(request, "official")
    try:
        rid = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(text='{"error": "no such recording"}',
                               content_type="application/json") from None
    row = await in_store(request.app, request.app[STORE].recording, rid)
    if row is None:
        raise web.HTTPNotFound(text='{"error": "no such recording (purged?)"}',
                               content_type="application/json")
    if not await in_store(request.app, _files_there, row.audio, row.log):
        raise web.HTTPNotFound(text='{"error": "the recording is listed but its files are '
                               'gone from disk; healthdial purge takes it off the list"}',
                               content_type="application/json")
    return row


async def recording_log(request: web.Request) -> web.Response:
    row = await _recording(request)
    text = await in_store(request.app, Path(row.log).read_text, "utf-8")
    return web.json_response({**_row(row), "log": json.loads(text)})


async def recording_audio(request: web.Request) -> web.StreamResponse:
    who = require(request, "official")
    row = await _recording(request)
    await in_store(request.app, request.app[STORE].audit, who.name, "listen",
                   row.campaign, row.attempt_id)
    return web.FileResponse(row.audio, headers={"Content-Type": "audio/flac",
                                                   "Cache-Control": "no-store"})


async def calls_page(request: web.Request) -> web.Response:
    who = require(request, "official")
    name = campaign_name(request)
    return aiohttp_jinja2.render_template("calls.html", request, {
        "who": who, "csrf": who.csrf or "", "name": name,
        "question": request.query.get("question", "")})


async def recording_page(request: web.Request) -> web.Response:
    who = require(request, "official")
    row = await _recording(request)
    return aiohttp_jinja2.render_template("recording.html", request, {
        "who": who, "csrf": who.csrf or "", "rec": _row(row), "campaign": row.campaign})
