"""The console's JSON API: what the page uses, documented in README ("The console's API").

    GET    /api/campaigns                         [{name, state}]
    GET    /api/campaigns/{name}                  the live snapshot (state, lines_busy,
                                                  line_cap, cps, attempts, completed,
                                                  outcomes, progress, ...)
    GET    /api/campaigns/{name}/districts        prevalence by district, contact rates
    POST   /api/campaigns/{name}/pause|resume     {}
    POST   /api/campaigns/{name}/stop             {"confirm": true}
    PATCH  /api/campaigns/{name}                  {"line_cap": N, "cps": X}
    GET    /api/campaigns/{name}/followups        official; ?reveal=1 shows numbers (audited)
    GET    /api/campaigns/{name}/report           official; ?format=csv|json&reveal=1
    GET    /api/campaigns/{name}/floip            official; the FLOIP package's descriptor,
           /api/campaigns/{name}/floip/responses  and its rows (console/floip.py)
    POST   /api/campaigns                         official; multipart: name, survey, list,
                                                  region: the load's report (rejected rows)
    GET    /api/dnc   POST /api/dnc   DELETE /api/dnc      official; the do-not-call list
    GET    /api/audit                             official
Errors are JSON: {"error": "what was wrong and what to do"}.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

from dialer.campaign.admin import LoadReport, LoadRequest, check_name, load
from dialer.campaign.reports import followups, report
from dialer.console.auth import Who, check_csrf, require
from dialer.console.context import SNAPSHOTS, STORE, in_store
from dialer.console.snapshot import campaign_list, districts
from dialer.policy.contacts import mask, normalize, parse_dnc
from dialer.policy.settings import cps_problem
from dialer.store import ControlState, Store
from survey_scripts.errors import HealthdialError

CONTROL = {"pause": ControlState.PAUSED, "resume": ControlState.ACTIVE,
           "stop": ControlState.STOPPED}


def routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/campaigns", list_campaigns)
    r.add_post("/api/campaigns", create_campaign)
    r.add_get("/api/campaigns/{name}", one_campaign)
    r.add_patch("/api/campaigns/{name}", patch_campaign)
    r.add_get("/api/campaigns/{name}/districts", campaign_districts)
    for action in CONTROL:
        r.add_post(f"/api/campaigns/{{name}}/{action}", control)
    r.add_get("/api/campaigns/{name}/followups", campaign_followups)
    r.add_get("/api/campaigns/{name}/report", campaign_report)
    r.add_get("/api/dnc", dnc_list)
    r.add_post("/api/dnc", dnc_add)
    r.add_delete("/api/dnc", dnc_remove)
    r.add_get("/api/audit", audit)


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json() if request.can_read_body else {}
    except json.JSONDecodeError:
        raise web.HTTPBadRequest(text='{"error": "the body is not JSON"}',
                                 content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": "the body must be a JSON object"}',
                                 content_type="application/json")
    return body


def campaign_name(request: web.Request) -> str:
    try:
        return check_name(request.match_info["name"])
    except HealthdialError as e:
        raise web.HTTPNotFound(text=json.dumps({"error": str(e)}),
                               content_type="application/json") from None


async def list_campaigns(request: web.Request) -> web.Response:
    require(request)
    return web.json_response(await in_store(request.app, campaign_list, request.app[STORE]))


async def one_campaign(request: web.Request) -> web.Response:
    require(request)
    name = campaign_name(request)
    snaps = request.app[SNAPSHOTS]
    try:
        return web.json_response(await in_store(request.app, snaps.get, name))
    except HealthdialError as e:
        return error(404, str(e))


async def campaign_districts(request: web.Request) -> web.Response:
    require(request)
    name = campaign_name(request)
    try:
        rows = await in_store(request.app, districts, request.app[STORE], name)
    except HealthdialError as e:
        return error(404, str(e))
    return web.json_response(rows)


async def control(request: web.Request) -> web.Response:
    """Pause, resume or stop; each acts within 2 s and survives a restart of `run`."""
    who = require(request)
    check_csrf(request, who)
    name, action = campaign_name(request), request.path.rsplit("/", 1)[1]
    body = await _json(request)
    if action == "stop" and body.get("confirm") is not True:
        return error(400, 'a stop is permanent: send {"confirm": true}')
    store = request.app[STORE]
    try:
        current = await in_store(request.app, store.control, name)
    except HealthdialError as e:
        return error(404, str(e))
    if current.state == ControlState.STOPPED:
        return error(409, f"campaign {name!r} is stopped; it cannot be {action}d")
    state = CONTROL[action]
    reason = None if state == ControlState.ACTIVE else f"{action}d by {who.name}"
    new = await in_store(request.app, store.set_control, name, state, reason)
    await in_store(request.app, store.audit, who.name, action, name)
    return web.json_response({"name": name, "control": new.state, "reason": new.reason})


async def patch_campaign(request: web.Request) -> web.Response:
    who = require(request)
    check_csrf(request, who)
    name = campaign_name(request)
    body = await _json(request)
    lines, cps = body.get("line_cap"), body.get("cps")
    if lines is None and cps is None:
        return error(400, "give line_cap and/or cps")
    if lines is not None and (not isinstance(lines, int) or isinstance(lines, bool)
                              or not 1 <= lines <= 100_000):
        return error(400, "line_cap must be a whole number from 1 to 100000")
    if cps is not None and cps_problem(cps):
        return error(400, str(cps_problem(cps)))
    store = request.app[STORE]
    try:
        new = await in_store(request.app, store.set_control, name, None, None, lines, cps)
    except HealthdialError as e:
        return error(404, str(e))
    await in_store(request.app, store.audit, who.name, "set", name,
                   f"line_cap={lines} cps={cps}")
    return web.json_response({"name": name, "line_cap": new.line_cap, "cps": new.cps})


def reveal_of(request: web.Request, who: Who) -> bool:
    return request.query.get("reveal") == "1" and who.official


async def campaign_followups(request: web.Request) -> web.Response:
    who = require(request, "official")
    name, reveal = campaign_name(request), reveal_of(request, who)
    try:
        rows = await in_store(request.app, followups, request.app[STORE], name, reveal)
    except HealthdialError as e:
        return error(404, str(e))
    if reveal:
        await in_store(request.app, request.app[STORE].audit, who.name, "reveal", name,
                       f"follow-up list, {len(rows)} numbers")
    return web.json_response(rows)


async def campaign_report(request: web.Request) -> web.Response:
    who = require(request, "official")
    name, reveal = campaign_name(request), reveal_of(request, who)
    fmt = request.query.get("format", "csv")
    if fmt not in ("csv", "json"):
        return error(400, "format must be csv or json")
    try:
        text = await in_store(request.app, report, request.app[STORE], name, fmt, reveal)
    except HealthdialError as e:
        return error(404, str(e))
    await in_store(request.app, request.app[STORE].audit, who.name,
                   "reveal" if reveal else "download", name, f"report.{fmt}")
    kind = "text/csv" if fmt == "csv" else "application/json"
    disposition = f'attachment; filename="{name}-report{"-revealed" if reveal else ""}.{fmt}"'
    return web.Response(text=text, content_type=kind,
                        headers={"Content-Disposition": disposition})


async def create_campaign(request: web.Request) -> web.Response:
    """An official creates a campaign from a survey file and a call list (or adds a list
    to one): the good rows load, the rejected ones come back with their reasons."""
    who = require(request, "official")
    form = await request.post()
    check_csrf(request, who, str(form.get("csrf", "")))
    files = {k: _bytes(form.get(k)) for k in ("survey", "list")}
    name, region = str(form.get("name", "")), str(form.get("region", "")) or None
    try:
        rep = await in_store(request.app, load_upload, request.app[STORE], name, files, region)
    except HealthdialError as e:
        return error(400, str(e))
    await in_store(request.app, request.app[STORE].audit, who.name, "load", name,
                   f"{rep.loaded} loaded, {len(rep.rejected)} rejected")
    return web.json_response({"campaign": name, **rep.as_dict()})


def _bytes(part: Any) -> bytes | None:
    return part.file.read() if isinstance(part, FileField) else None


def load_upload(store: Store, name: str, files: dict[str, bytes | None],
                region: str | None) -> LoadReport:
    """The uploaded files, as files for `load` (owner-only, gone afterwards)."""
    if files["list"] is None:
        raise HealthdialError("upload a call list (CSV) as the field 'list'")
    with tempfile.TemporaryDirectory(prefix="healthdial-upload-") as work:
        listing = Path(work) / "list.csv"
        listing.write_bytes(files["list"])
        survey = None
        if files["survey"] is not None:
            survey = Path(work) / "survey.yaml"
            survey.write_bytes(files["survey"])
        return load(store, LoadRequest(listing, name, str(survey) if survey else None, region))


async def dnc_list(request: web.Request) -> web.Response:
    who = require(request, "official")
    reveal = reveal_of(request, who)
    rows = await in_store(request.app, request.app[STORE].dnc_entries)
    out = [{"number": r.e164 if reveal else mask(r.e164), "ext": r.ext,
            "added_at": r.added_at, "source": r.source} for r in rows]
    if reveal:
        await in_store(request.app, request.app[STORE].audit, who.name, "reveal", None,
                       f"do-not-call list, {len(out)} numbers")
    return web.json_response(out)


async def dnc_add(request: web.Request) -> web.Response:
    """Numbers as text (one per line) or a file in the field 'file'."""
    who = require(request, "official")
    form = await request.post()
    check_csrf(request, who, str(form.get("csrf", "")))
    uploaded = _bytes(form.get("file"))
    text = uploaded.decode("utf-8-sig", "replace") if uploaded else str(form.get("numbers", ""))
    region = str(form.get("region", "CN")) or "CN"
    try:
        parsed = parse_dnc(text, region, "the uploaded list")
    except HealthdialError as e:
        return error(400, str(e))
    store: Store = request.app[STORE]
    added = await in_store(request.app, store.dnc_add, parsed.numbers, f"console:{who.name}")
    await in_store(request.app, store.audit, who.name, "dnc add", None,
                   f"{added} numbers, {len(parsed.rejected)} unreadable")
    return web.json_response({"added": added, "read": len(parsed.numbers), "rejected": [
        {"line": r.row, "reason": r.reason} for r in parsed.rejected]})


async def dnc_remove(request: web.Request) -> web.Response:
    who = require(request, "official")
    check_csrf(request, who)
    body = await _json(request)
    numbers, region = body.get("numbers"), str(body.get("region", "CN"))
    if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
        return error(400, 'send {"numbers": ["+86...", ...]}')
    parsed = []
    for raw in numbers:
        e164, ext, why = normalize(raw, region)
        if e164 is None:
            return error(400, f"{raw[:40]!r}: {why}")
        parsed.append((e164, ext))
    store: Store = request.app[STORE]
    removed = await in_store(request.app, store.dnc_remove, parsed)
    await in_store(request.app, store.audit, who.name, "dnc remove", None, f"{removed} numbers")
    return web.json_response({"removed": removed})


async def audit(request: web.Request) -> web.Response:
    require(request, "official")
    rows = await in_store(request.app, request.app[STORE].audit_log)
    return web.json_response([asdict(r) for r in rows])
