"""Levers on recognition cost and turns, each measured the same way (issue 20's table).

    python bench/decode_cost.py collect /tmp/answers.pkl       # once: the answers to time
    python bench/levers.py /tmp/answers.pkl [--lever before --lever ds2 ...] [--calls 60]
                                            [--jobs 2]

For each lever, in a fresh process: CPU ms per decoded answer on the collected
answers (simulated calls' and the corpora's), the corpora scored (real and
synthetic apart: right, wrong, read back, wrong unread) and simulated calls
(right, wrong, unanswered, turns per answer). A lever is a change to the
decoder's settings (speech.sphinx.DECODER) or to the dialog's thresholds.
Prints one JSON object per lever, then a markdown table.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# name -> settings: "decoder.KEY" over speech.sphinx.DECODER, "module.NAME" a constant,
# "second_pass" the recognizer's default, "coef" the confidence model's coefficients.
# Each names every setting it differs in from today's defaults ("kept"), so that the
# table can be made again on this tree.
BEFORE: dict[str, Any] = {"speech.sphinx.GARBAGE_PATH": "<g> [<g>] [<g>] [<g>]",
                          "second_pass": True}  # issue 19's recognizer
LEVERS: dict[str, dict[str, Any]] = {
    "before": BEFORE,
    "ds2": {**BEFORE, "decoder.ds": 2},
    "topn2": {**BEFORE, "decoder.topn": 2},
    "ds2+topn2": {**BEFORE, "decoder.ds": 2, "decoder.topn": 2},
    "beam1e-25": {**BEFORE, "decoder.beam": 1e-25, "decoder.pbeam": 1e-25,
                  "decoder.wbeam": 1e-15},
    "maxhmmpf2000": {**BEFORE, "decoder.maxhmmpf": 2000},
    "no-second-pass": {**BEFORE, "second_pass": False},
    "garbage-loop": {**BEFORE, "speech.sphinx.GARBAGE_PATH": "<g>+"},
    "garbage2": {**BEFORE, "speech.sphinx.GARBAGE_PATH": "<g> [<g>]"},
    "garbage2+no-second-pass": {"speech.sphinx.GARBAGE_PATH": "<g> [<g>]"},
    "garbage2-w1e-14": {"speech.sphinx.GARBAGE_PATH": "<g> [<g>]",
                        "speech.sphinx.GARBAGE_WEIGHT": 1e-14},
    "garbage2-w1e-12": {"speech.sphinx.GARBAGE_PATH": "<g> [<g>]",
                        "speech.sphinx.GARBAGE_WEIGHT": 1e-12},
    "kept": {},  # three garbage words, no second pass
    "kept+refit": {"coef": (4.43, 4.43, 1.78, 0.0, 0.0, -4.15)},
    "read-back replies without garbage": {"dialer.robot.robot.CONFIRM_GARBAGE": False},
    # the dialog: every unsure answer read back on its own turn, as before implicit
    # confirmation (today: said back with the next question where one follows)
    "explicit read-backs": {"survey_scripts.prompts.IMPLICIT": False},
    # the grammar search without pronunciation variants, or without silence and noise
    # words between the grammar's words (pocketsphinx's defaults have both)
    "no-altpron": {"decoder.fsgusealtpron": False},
    "no-filler": {"decoder.fsgusefiller": False},
    # the phone loop's lookahead (default 5 frames) only serves n-gram searches
    "pl_window0": {"decoder.pl_window": 0},
    # half the garbage loop's words (the shortest and most common of the 40): the loop
    # is half the search, the search half a decode
    "garbage-20-words": {"speech.sphinx._GARBAGE": (
        "a the to of and in it is i you he we me be do go so my say now").split()},
    # the 28 words the loop took off-topic speech with at least three times on the tuning
    # corpus and the synthetic one (real/held-out not looked at to choose them)
    "garbage-28-used": {"speech.sphinx._GARBAGE": (
        "it an you why to or but and them a the if at in of go day on he new by may who "
        "this up all we how").split()},
}
TURN_DECISIONS = {"confirming", "confirmed", "denied", "reprompted", "accepted", "keypad",
                  "keyed", "repeated", "dont_know", "opted_out", "unanswered", "agreed",
                  "implied", "went_back"}


def _apply(lever: str) -> None:
    import importlib

    import speech.sphinx as sphinx

    for key, v in LEVERS[lever].items():
        if key == "coef":
            import speech.confidence

            speech.confidence.probability.__defaults__ = (v,)
        elif key == "second_pass":
            init = sphinx.SphinxRecognizer.__init__

            def patched(self: Any, *a: Any, _init: Any = init, _v: Any = v, **kw: Any) -> None:
                _init(self, *a, **{**kw, "second_pass": _v})
            sphinx.SphinxRecognizer.__init__ = patched  # type: ignore[method-assign]
        elif key.startswith("decoder."):
            sphinx.DECODER[key.removeprefix("decoder.")] = v
        else:
            module, name = key.rsplit(".", 1)
            setattr(importlib.import_module(module), name, v)


def _decode_ms(answers: dict[str, Any]) -> dict[str, float]:
    from dialer.wire import EngineSpec
    from speech.audio import Audio
    from speech.engines import make_recognizer

    rec = make_recognizer(EngineSpec())
    out = {}
    for name, items in answers.items():
        for samples, rate, grammar in items[:20]:  # grammars built, model warm
            rec.recognize(Audio(samples, rate), grammar)
        t = time.thread_time()
        for samples, rate, grammar in items:
            rec.recognize(Audio(samples, rate), grammar)
        out[name] = round(1000 * (time.thread_time() - t) / len(items), 2)
    return out


def _corpora() -> dict[str, dict[str, int]]:
    from dialer.recordings.corpus import score_corpus

    out: dict[str, Counter[str]] = {"real": Counter(), "synthetic": Counter()}
    for folder in ("real/tune", "real/held-out", "synthetic"):
        report = score_corpus(ROOT / "tests" / "corpus" / folder)
        for source, t in report.by_source.items():
            out[source].update(t.as_dict())
    return {k: dict(v) for k, v in out.items()}


def _calls(n: int) -> dict[str, Any]:
    from dialer.simulation.accuracy import run_accuracy
    from dialer.wire import EngineSpec

    d = run_accuracy(None, EngineSpec(), n, 1, processes=1).as_dict()
    turns = sum(v for k, v in d["decisions"].items() if k in TURN_DECISIONS)
    answered = d["correct"] + d["wrong"]
    return {"right": d["correct"], "wrong": d["wrong"], "unanswered": d["unanswered"],
            "turns": turns, "turns_per_answer": round(turns / max(1, answered), 2),
            "completed": d["outcomes"].get("completed", 0), "decisions": d["decisions"]}


def one(lever: str, answers: Path, calls: int) -> dict[str, Any]:
    _apply(lever)
    data = pickle.loads(answers.read_bytes())
    return {"lever": lever, "decode_ms": _decode_ms(data), "corpora": _corpora(),
            "calls": _calls(calls) if calls else None}


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| lever | ms/answer (sim calls) | ms/answer (corpora) | real: right / wrong / "
             "wrong unread / read back | synthetic: right / wrong / wrong unread / read back"
             " | calls: right / wrong / unanswered | turns per answer |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        c = r["corpora"]
        corp = [f"{c[s]['right']} / {c[s]['wrong']} / {c[s]['wrong_unread']} / "
                f"{c[s]['read_back']}" for s in ("real", "synthetic")]
        k = r["calls"] or {}
        calls = f"{k['right']} / {k['wrong']} / {k['unanswered']}" if k else "-"
        lines.append(f"| {r['lever']} | {r['decode_ms']['sim']} | {r['decode_ms']['corpus']} | "
                     f"{corp[0]} | {corp[1]} | {calls} | {k.get('turns_per_answer', '-')} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("answers", type=Path)
    ap.add_argument("--lever", action="append", choices=sorted(LEVERS))
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--jobs", type=int, default=1, help="levers measured at once")
    args = ap.parse_args()
    levers = args.lever or list(LEVERS)
    if args.one:
        print(json.dumps(one(levers[0], args.answers, args.calls)))
        return
    rows, running = [], []
    for lever in levers:  # a fresh process each: the decoder's settings are made once
        running.append(subprocess.Popen(
            [sys.executable, __file__, str(args.answers), "--one", "--lever", lever,
             "--calls", str(args.calls)], stdout=subprocess.PIPE, text=True))
        if len(running) >= args.jobs:
            rows.append(json.loads(running.pop(0).communicate()[0]))
            print(json.dumps(rows[-1]), flush=True)
    for p in running:
        rows.append(json.loads(p.communicate()[0]))
        print(json.dumps(rows[-1]), flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
