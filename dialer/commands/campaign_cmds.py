"""`load`, `set`, `run`, `status`, `report`, `followups`, `campaigns`, `demo`, `worker`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from dialer.commands.common import (
    audit_reveal,
    check_cps,
    check_lines,
    db_arg,
    engine_args,
    redis_arg,
    run_args,
    run_params,
    settings_args,
    settings_given,
)
from dialer.policy.contacts import printable
from survey_scripts.errors import UsageError


def register(sub: Any) -> None:
    load = sub.add_parser("load", help="add a CSV call list to a campaign (created on first load)")
    db_arg(load)
    load.add_argument("list", help="CSV with a phone column (name, district, language, timezone)")
    load.add_argument("--campaign", required=True, help="letters, digits, _ - . (at most 64)")
    load.add_argument("--script", help="the survey YAML file (required for a new campaign; "
                                       "frozen with it)")
    load.add_argument("--region", help="default region for national numbers (default CN)")
    load.add_argument("--dnc", help="do-not-call file (numbers, one per line or a phone "
                                    "column): added to the store's list for every campaign")
    load.add_argument("--dnc-lenient", action="store_true",
                      help="block the readable do-not-call lines even if some are unreadable")
    load.add_argument("--seed", type=int, help="seed of the simulated population (default 1)")
    load.add_argument("--line", choices=["simulated", "sip"],
                      help="the campaign's lines: simulated (default) or sip (real calls "
                           "through each worker's trunk file, $HEALTHDIAL_TRUNK)")
    load.add_argument("--callees", choices=["duplex", "classic"],
                      help="simulated callees: duplex (default: early answers, echo) or classic")
    settings_args(load)
    engine_args(load)
    load.add_argument("--json", action="store_true")
    load.set_defaults(func=cmd_load)

    change = sub.add_parser("set", help="change a campaign's lines, calls per second, calling "
                                        "hours, retries or (before its first call) its survey")
    db_arg(change)
    change.add_argument("campaign")
    change.add_argument("--lines", type=int, help="the line cap (a running campaign takes it "
                                                  "within 2 s)")
    change.add_argument("--cps", type=float, help="calls started per second, at most")
    settings_args(change)
    change.add_argument("--script", help="freeze this survey (only before the first call, or "
                                         "where none is frozen)")
    change.add_argument("--line", choices=["simulated", "sip"],
                        help="the campaign's lines (only before its first call)")
    change.set_defaults(func=cmd_set)

    run = sub.add_parser("run", help="call a campaign to the end (resumes after a crash)")
    db_arg(run)
    run.add_argument("campaign")
    run_args(run, None)
    redis_arg(run, "Redis URL: send calls to RQ workers (default: $HEALTHDIAL_REDIS_URL; "
                   "none: embedded worker processes)")
    run.set_defaults(func=cmd_run)

    worker = sub.add_parser("worker", help="RQ workers for a campaign's calls, models kept warm")
    redis_arg(worker, "Redis URL (default: $HEALTHDIAL_REDIS_URL)")
    worker.add_argument("--campaign", required=True, help="the campaign whose calls to take")
    worker.add_argument("--processes", type=int, default=1)
    worker.set_defaults(func=cmd_worker)

    for name, text, func in (("status", "a campaign's progress and outcomes", cmd_status),
                             ("followups", "red and yellow respondents, for call-back by staff",
                              cmd_followups)):
        p = sub.add_parser(name, help=text)
        db_arg(p)
        p.add_argument("campaign")
        p.add_argument("--json", action="store_true")
        if name == "followups":
            p.add_argument("--reveal", action="store_true", help="show full phone numbers")
        p.set_defaults(func=func)
    rep = sub.add_parser("report", help="every contact with outcome and answers")
    db_arg(rep)
    rep.add_argument("campaign")
    rep.add_argument("--format", choices=["csv", "json", "floip"], default="csv",
                     help="floip: a FLOIP Flow Results package (a folder: datapackage.json "
                          "and its data), contact ids pseudonymous unless --reveal")
    rep.add_argument("-o", "--output", help="with --format floip: the package's folder "
                                            "(default: CAMPAIGN-floip)")
    rep.add_argument("--reveal", action="store_true", help="show full phone numbers")
    rep.set_defaults(func=cmd_report)
    names = sub.add_parser("campaigns", help="the campaigns in a store")
    db_arg(names)
    names.set_defaults(func=cmd_campaigns)
    demo = sub.add_parser("demo", help="a synthetic province, called end to end")
    demo.add_argument("--contacts", type=int, default=300)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--json", action="store_true")
    demo.add_argument("--callees", choices=["duplex", "classic"], default="duplex",
                      help="simulated callees: duplex (early answers, echo) or classic")
    demo.add_argument("--record", default="none", help="record calls: none, all, failed, "
                                                       "sample:PCT")
    demo.add_argument("--db", help="the store to call into (default: a new one in a temporary "
                                   "folder)")
    demo.add_argument("--campaign", default="demo", help="the demo campaign's name")
    demo.add_argument("--script", help="the survey YAML the province is asked (default: the "
                                       "English COVID-19 survey); any survey, imported ones "
                                       "too: the population answers every question type")
    demo.add_argument("--line", choices=["simulated", "sip"], default="simulated",
                      help="sip: over SIP and RTP to the population answering as SIP user "
                           "agents on 127.0.0.1 (on the wall clock)")
    run_args(demo, 200)
    demo.set_defaults(func=cmd_demo)


def cmd_load(args: argparse.Namespace) -> int:
    from dialer.campaign.admin import LoadRequest, load
    from dialer.policy.settings import CampaignSettings
    from dialer.store import Store

    given = settings_given(args)
    req = LoadRequest(Path(args.list), args.campaign, args.script, args.region,
                      Path(args.dnc) if args.dnc else None, args.dnc_lenient, args.seed,
                      settings=CampaignSettings(**given) if given else None,
                      engine=args.engine, vosk_model=args.vosk_model, callees=args.callees,
                      line=args.line)
    if not Path(args.list).is_file():
        raise UsageError(f"{args.list}: no such call list file")
    rep = load(Store(args.db), req)
    status = 1 if rep.rejected else 0  # README: 1 = done, but some input was unreadable
    if args.json:
        print(json.dumps(rep.as_dict(), ensure_ascii=False))
        return status
    print(f"{printable(args.list)}: loaded {rep.loaded}, duplicates {rep.duplicates}, "
          f"do-not-call {rep.dnc}, rejected {len(rep.rejected)}")
    for r in rep.rejected:
        print(f"  {printable(args.list)}: row {r.row}: {printable(r.reason)}")
    return status


def cmd_set(args: argparse.Namespace) -> int:
    import getpass

    from dialer.campaign.admin import change
    from dialer.store import Store

    given = settings_given(args)
    if not given and not args.script and args.lines is None and args.cps is None and \
            args.line is None:
        raise UsageError("nothing to change: give --lines, --cps, --hours, --retry-minutes, "
                         "--max-attempts, --script or --line")
    check_lines(args.lines)
    check_cps(args.cps)
    store = Store(args.db, create=False)
    c = change(store, args.campaign, given, args.script, args.line)
    if args.lines is not None or args.cps is not None:
        store.set_control(args.campaign, line_cap=args.lines, cps=args.cps)
        store.audit(f"cli:{getpass.getuser()}", "set", args.campaign,
                    f"lines={args.lines} cps={args.cps}")
        c = store.campaign(args.campaign)
    if "keep_days" in given:  # recordings already made keep for the new time: purge now
        from dialer.recordings.files import purge_expired

        purged = purge_expired(store)
        if purged.removed or purged.missing:
            print(purged)
    s = c.settings
    print(f"campaign {c.name}: {c.control.line_cap} lines, {c.control.cps:g} calls/s; hours "
          f"{s.hours_start}-{s.hours_end}, retries after "
          f"{','.join(f'{m:g}' for m in s.retry_minutes)} min, at most {s.max_attempts} "
          f"attempts; survey {(c.survey_hash or 'none')[:12]}; {c.line.kind} lines")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from dialer.dispatch.runner import run
    from dialer.store import Store

    stats = run(Store(args.db, create=False), args.campaign, run_params(args),
                not args.no_progress, args.redis, (args.lines, args.cps))
    by_status = Store(args.db, create=False).counts(args.campaign).status
    left = [f"{by_status[k]} {what}" for k, what in (
        ("blocked", "blocked (do-not-call or opted out), not called"),
        ("set_aside", "set aside (`healthdial report` says why)")) if by_status.get(k)]
    print(f"{stats.attempts} attempts, outcomes {dict(stats.outcomes)}, "
          f"{stats.calls_per_s:.2f} completed calls/s"
          f"{'; stopped by an operator' if stats.stopped else ''}"
          f"{'; ' + '; '.join(left) if left else ''}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from workers.rqworker import serve

    if not args.redis:
        raise UsageError("worker needs --redis URL (or $HEALTHDIAL_REDIS_URL)")
    if not 1 <= args.processes <= 256:
        raise UsageError(f"--processes {args.processes}: use 1 to 256")
    if os.environ.get("HEALTHDIAL_TRUNK"):  # this worker dials SIP: its trunk must answer
        from dialer.lines.registry import backend

        print(backend("sip").check(), file=sys.stderr)
    serve(args.redis, args.campaign, args.processes)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from dialer.campaign.reports import status
    from dialer.store import Store

    st = status(Store(args.db, create=False), args.campaign)
    if args.json:
        print(json.dumps(st))
        return 0
    for k, v in st.items():
        print(f"{k:17s} {v:.1%}" if isinstance(v, float) else f"{k:17s} {v}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from dialer.campaign.reports import report
    from dialer.store import Store

    store = Store(args.db, create=False)
    if args.format == "floip":
        return _floip(store, args)
    text = report(store, args.campaign, args.format, args.reveal)
    if args.reveal:
        audit_reveal(store, args.campaign, f"report --format {args.format}")
    sys.stdout.write(text)
    return 0


def _floip(store: Any, args: argparse.Namespace) -> int:
    from dialer.campaign.floip import write_package

    out = Path(args.output or f"{args.campaign}-floip")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{printable(str(out))} is a file: give -o a folder for the package")
    store.campaign(args.campaign)  # an unknown campaign is named before anything is written
    desc, n = write_package(store, args.campaign, out, args.reveal)
    if args.reveal:
        audit_reveal(store, args.campaign, "report --format floip")
    print(f"{printable(str(desc))}: {n} responses, contact ids "
          f"{'revealed (full numbers)' if args.reveal else 'pseudonymous'}")
    return 0


def cmd_followups(args: argparse.Namespace) -> int:
    from dialer.campaign.reports import followups
    from dialer.store import Store

    store = Store(args.db, create=False)
    rows = followups(store, args.campaign, args.reveal)
    if args.reveal:
        audit_reveal(store, args.campaign, "followups")
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for r in rows:
        shown = r["phone"]  # already masked by followups() unless --reveal
        print(f"{r['risk']:7s} {shown:20s} {printable(r['district'])[:20]:20s} "
              f"{printable(r['name'])[:40]}")
    print(f"{len(rows)} to call back")
    return 0


def cmd_campaigns(args: argparse.Namespace) -> int:
    from dialer.store import Store

    for name in Store(args.db, create=False).campaign_names():
        print(name)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from dialer.simulation.demo import demo

    if not 1 <= args.contacts <= 10_000_000:
        raise UsageError(f"--contacts {args.contacts}: use 1 to 10000000")
    params = run_params(args)
    if args.line == "sip":  # real lines run on the wall clock
        params = replace(params, realtime=True)
    out = demo(args.contacts, params, args.seed, Path(args.db) if args.db else None,
               not args.no_progress, args.callees, args.record, args.campaign, args.line,
               Path(args.script) if args.script else None)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"contacts {out['contacts']}, attempts {out['attempts']}, completed {out['completed']}")
    print(f"outcomes {out['outcomes']}")
    print(f"response rate {out['response_rate']:.1%}; risk {out['risk']}")
    print(f"{out['calls_per_s']:.2f} completed calls/s; "
          f"{out['cpu_s_per_completed_call'] or 0:.2f} CPU s per completed call; "
          f"{out['simulated_hours']:.1f} simulated hours in {out['wall_s']:.0f} s")
    print("prevalence among respondents   estimate  95% interval     truth")
    for q, p in out["prevalence"].items():
        inside = "inside" if p["truth"] is not None and p["ci_low"] <= p["truth"] <= p[
            "ci_high"] else "OUTSIDE"
        print(f"  {q:28s} {p['estimate']:7.1%}  {p['ci_low']:6.1%}-{p['ci_high']:6.1%}  "
              f"{(p['truth'] or 0):6.1%} {inside}")
    print(f"answer accuracy against the truth (synthetic voices): {out['accuracy']}")
    print(f"store: {out['db']} (campaign {out['campaign']})")
    return 0
