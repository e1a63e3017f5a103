"""`call`, `recognize`, `accuracy`: one call, audio files, and simulated calls scored."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from dialer.commands.common import script_args
from survey_scripts.errors import AudioError, UsageError

log = logging.getLogger("healthdial")


def _callees(p: argparse.ArgumentParser) -> None:
    p.add_argument("--callees", choices=["duplex", "classic"], default="duplex",
                   help="simulated callees: duplex (some answer before the question ends, "
                        "the line echoes the robot) or classic (neither, as before)")


def register(sub: Any) -> None:
    call = sub.add_parser("call", help="one call, printed turn by turn: simulated, or a real "
                                       "one through this machine's SIP trunk")
    script_args(call)
    call.add_argument("--seed", type=int, default=1)
    call.add_argument("--line", choices=("simulated", "sip"), default="simulated",
                      help="sip: a real call through the trunk file $HEALTHDIAL_TRUNK names")
    call.add_argument("--to", help="with --line sip: the number (E.164) or a sip: URI")
    call.add_argument("--ring-s", type=float, default=30.0,
                      help="with --line sip: cancel a call still ringing after this long")
    call.add_argument("--json", action="store_true", help="with --line sip: one JSON object")
    _callees(call)
    call.set_defaults(func=cmd_call)
    rec = sub.add_parser("recognize", help="recognize WAV files against one question's grammar")
    script_args(rec)
    rec.add_argument("--question", required=True, help="question id, e.g. fever")
    rec.add_argument("audio", nargs="+", help="WAV files (any rate, mono or stereo)")
    rec.set_defaults(func=cmd_recognize)
    acc = sub.add_parser("accuracy", help="simulated calls scored against the hidden truth, "
                                          "or a corpus of labelled recordings")
    script_args(acc)
    acc.add_argument("--calls", type=int, default=50)
    acc.add_argument("--corpus", help="a corpus folder (manifest.csv: file,question,expected)")
    acc.add_argument("--seed", type=int, default=1)
    acc.add_argument("--json", action="store_true")
    acc.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                     help="worker processes (default: one per core)")
    _callees(acc)
    acc.set_defaults(func=cmd_accuracy)


def _survey_and_engine(args: argparse.Namespace) -> Any:
    from dialer.wire import EngineSpec
    from speech.engines import choose
    from survey_scripts import DEFAULT_SURVEY
    from survey_scripts.loader import load_survey

    survey = load_survey(args.script or DEFAULT_SURVEY)
    return survey, EngineSpec(*choose(args.engine, args.vosk_model, survey.language.code,
                                      survey.keys_only))


def _robot(args: argparse.Namespace) -> Any:
    from dialer.campaign.admin import check_speakable
    from dialer.robot.robot import build_robot

    survey, engine = _survey_and_engine(args)
    check_speakable(survey)
    robot = build_robot(survey, engine)
    log.info("survey %s (%s), recognition engine: %s", survey.name, survey.language.code,
             robot.listener.recognizer.name)
    return robot, engine


def cmd_call(args: argparse.Namespace) -> int:
    """One simulated call, the robot's side beside the simulated callee's."""
    from dialer.lines.simulated import build_simulation
    from dialer.lines.simulated.line import SimulatedLine
    from dialer.lines.simulated.persona import make_persona
    from dialer.robot.call import run_survey

    if args.line == "sip":
        from dialer.commands.sip_cmds import call_sip

        if not args.to:
            raise UsageError("call --line sip needs --to: a number (+8613800138000) or a "
                             "sip: URI")
        return call_sip(args, _robot(args)[0])
    robot, engine = _robot(args)
    sim = build_simulation(robot.survey, engine.engine, robot.synth, robot.prompts(),
                           args.callees == "duplex")
    persona = make_persona(args.seed, robot.survey)
    print(f"callee: voice {persona.voice}, habits {persona.habits}")
    line = SimulatedLine.with_person(sim, persona)
    record = asyncio.run(run_survey(robot, line))
    replies = iter(line.replies)
    for i, t in enumerate(record.turns, 1):
        h = t.heard
        heard = ("(keypad " + h.digits + ")" if h.digits else "(silence)" if h.silent
                 else "(hung up)" if h.hangup else repr(h.transcript) or "(rejected)")
        said = next(replies, None)
        print(f"{i:2d}. robot [{t.prompt.kind}:{t.prompt.question_id}] {t.prompt.text}")
        print(f"    callee did: {said.kind + ' ' + repr(said.text) if said else '-'}"
              f"{' (cut the prompt short)' if t.barged_in else ''}")
        print(f"    robot heard: {heard} confidence {h.confidence:.2f} -> {t.decision}")
    r = record.result
    print(f"outcome: {r.outcome.value}; risk: {r.risk}")
    for qid, rec in r.answers.items():
        print(f"  {qid:12s} recorded {rec.value!s:10s} ({rec.how})  truth {persona.truth.get(qid)}")
    return 0


def cmd_recognize(args: argparse.Namespace) -> int:
    """One JSON line per file, heard as a call hears it (the phone line, endpointing, the
    confidence the dialog needs: dialer.recordings.corpus.hear, as `accuracy --corpus`); any WAV or
    FLAC soundfile reads (G.711 mu-law and A-law WAVs too). An unreadable file gets an
    error line and the rest go on (exit 1 then)."""
    from dialer.recordings.corpus import hear, read_callee
    from speech.channel import RATE

    robot, _ = _robot(args)
    ids = [q.id for q in robot.survey.questions]
    if args.question not in ids:
        raise UsageError(f"no question {args.question!r} in {robot.survey.path}; "
                         f"use one of: {', '.join(ids)}")
    status = 0
    for path in args.audio:
        try:
            audio = read_callee(Path(path)).resampled(RATE)
        except AudioError as e:
            print(json.dumps({"file": path, "error": str(e)}, ensure_ascii=False))
            status = 1
            continue
        answer, transcript, confidence = hear(robot.listener, robot.survey, args.question,
                                              audio)
        print(json.dumps({"file": path, "transcript": transcript, "answer": answer,
                          "confidence": round(confidence, 3)}, ensure_ascii=False))
    return status


def cmd_accuracy(args: argparse.Namespace) -> int:
    from dialer.simulation.accuracy import run_accuracy
    from speech.engines import make_recognizer

    if args.corpus:
        return _corpus(args)
    if args.calls < 1 or args.processes < 1:
        raise UsageError("--calls and --processes must be at least 1")
    survey, engine = _survey_and_engine(args)
    make_recognizer(engine)  # a missing model is an error before any worker starts
    log.info("survey %s, recognition engine: %s, %d processes", survey.name, engine.engine,
             args.processes)
    report = run_accuracy(survey, engine, args.calls, args.seed, args.processes,
                          args.callees == "duplex")
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


def _corpus(args: argparse.Namespace) -> int:
    """Right / wrong / rejected, in all, by question and by source (real apart from
    synthetic, always)."""
    from pathlib import Path

    from dialer.recordings.corpus import score_corpus

    report = score_corpus(Path(args.corpus), args.script, args.engine)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
        return 1 if report.skipped else 0
    print(f"{'':24s} {'items':>6s} {'right':>6s} {'wrong':>6s} {'rejected':>9s} "
          f"{'read back':>9s} {'wrong unread':>12s}")
    rows = [("TOTAL", report.total), *sorted(report.by_question.items()),
            *[(f"source: {k}", v) for k, v in sorted(report.by_source.items())]]
    for name, t in rows:
        print(f"{name:24s} {t.items:6d} {t.right:6d} {t.wrong:6d} {t.rejected:9d} "
              f"{t.read_back:9d} {t.wrong_unread:12d}")
    print("right: heard as labelled (off-topic speech, expected 'reject', is right when "
          "nothing is taken); rejected: an answer not taken\n"
          "read back: answers heard below the confidence to record them unasked (confirm: "
          "auto reads them back); wrong unread: wrong answers it would act on unasked")
    for problem in report.skipped:
        print(f"skipped {problem}", file=sys.stderr)
    return 1 if report.skipped else 0
