"""healthdial's benchmark (not a test): how fast, against the Hubei robots' 4.2 surveys/s.

    python bench/run.py [--calls 30] [--contacts 200] [--lines 100,250,500,750,1000,1500]
    python bench/run.py --report-only   # BENCHMARKS.md again from bench/results.json
    python bench/run.py --ramps-only --lines ...   # the realtime ramps again, the rest kept

Writes BENCHMARKS.md and bench/results.json; compares with bench/before.json (the
same command at an earlier commit) when it is there. Measured in one run:
- fast clock: a demo campaign (dispatcher, store, worker processes), completed
  surveys per second and CPU seconds per completed call;
- per call, in one process: the robot's CPU apart from the simulated callee's,
  and where it goes (decoding, synthesis, channel, ...); the decode floor (the
  recognizer alone on the same answers) and a naive baseline (open dictation, a
  decoder per call) on the same answer audio;
- realtime clock: lines held, turn latency percentiles, lag, RSS, CPU (bench/ramp.py),
  with the simulated callees on the same cores, with callees replaying recorded
  calls (the robot's work alone), and the same over SIP and RTP, far ends on this
  machine replaying them (bench/sip_farend.py);
- what recording a call costs (bench/recording.py), and the console's cost with ten
  live dashboards on a 100-line realtime campaign (bench/console.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NAIVE_CALLS = 10
sys.path.insert(0, str(ROOT))

import dialer.lines.simulated.callee  # noqa: E402
import dialer.lines.simulated.line  # noqa: E402
import dialer.robot.pickup  # noqa: E402
import dialer.robot.turn  # noqa: E402
import speech.dtmf  # noqa: E402
import speech.endpoint  # noqa: E402
from bench.console import measure as console_overhead  # noqa: E402
from bench.ramp import ramp  # noqa: E402
from bench.recording import recorded_calls  # noqa: E402
from bench.report import table  # noqa: E402
from bench.split import Split  # noqa: E402
from dialer.dispatch.dispatcher import RunParams  # noqa: E402
from dialer.lines.simulated import build_simulation  # noqa: E402
from dialer.lines.simulated.callee import Callee  # noqa: E402
from dialer.lines.simulated.line import SimulatedLine, Simulation  # noqa: E402
from dialer.lines.simulated.population import persona  # noqa: E402
from dialer.robot.call import run_survey  # noqa: E402
from dialer.robot.robot import Robot, build_robot  # noqa: E402
from dialer.simulation.demo import demo  # noqa: E402
from dialer.store import Store  # noqa: E402
from dialer.wire import EngineSpec  # noqa: E402
from speech.audio import Audio  # noqa: E402
from speech.endpoint import FrameFeeder  # noqa: E402
from speech.listener import Hearing  # noqa: E402
from speech.recognizer import Grammar  # noqa: E402
from speech.sphinx import SphinxRecognizer  # noqa: E402
from speech.tts import Synthesizer  # noqa: E402
from survey_scripts import DEFAULT_SURVEY  # noqa: E402
from survey_scripts.loader import load_survey  # noqa: E402


def fast_campaign(contacts: int) -> dict[str, Any]:
    """A demo province on the fast clock; the dispatcher's process apart from the store."""
    split = Split()
    split.wrap_all(Store, "store", skip=lambda _n: False)
    own, kids = _rusage()
    try:
        c = demo(contacts, RunParams(lines=200), seed=11, progress=False)
    finally:
        split.undo()
    own2, kids2 = _rusage()
    store = split.by_part()["store"]
    keep = ("contacts", "attempts", "completed", "calls_per_s", "cpu_s_per_completed_call",
            "wall_s")
    return {**{k: c[k] for k in keep}, "store_cpu_s": store,
            "dispatcher_cpu_s": own2 - own - store, "workers_cpu_s": kids2 - kids}


def per_call(calls: int) -> dict[str, Any]:
    """Calls in this process: the robot's time apart from the callee's, and by part."""
    survey = load_survey(DEFAULT_SURVEY)
    robot = build_robot(survey, EngineSpec())
    sim = build_simulation(survey, "pocketsphinx", robot.synth, robot.prompts())
    answers: list[tuple[Audio, Grammar]] = []  # what the recognizer got, after endpointing
    ends: list[int] = []  # where each call's answers end in `answers`
    recognize = robot.listener.recognizer.recognize

    def kept(audio: Audio, grammar: Grammar):  # type: ignore[no-untyped-def]
        answers.append((audio, grammar))
        return recognize(audio, grammar)

    # the callees hear each prompt once per process; a long campaign pays it once, so it
    # is timed apart from the calls (the realtime workers do it before their first call)
    t = time.thread_time()
    sim.ear.warm(list(robot.prompts().values()))
    ear_warmup = time.thread_time() - t
    robot.listener.recognizer.recognize = kept  # type: ignore[method-assign]
    split = _split()
    _, kids = _rusage()
    start = time.process_time()  # every thread: decoding runs on its own
    completed = turns = answered = 0
    try:
        for cid in range(1, calls + 1):
            done, n_turns, n_answered = _one_call(robot, sim, cid)
            completed, turns, answered = completed + done, turns + n_turns, answered + n_answered
            ends.append(len(answers))
    finally:
        split.undo()
        robot.listener.recognizer.recognize = recognize  # type: ignore[method-assign]
    total = time.process_time() - start
    parts = {f"{who} / {part}": s / calls for (who, part), s in split.seconds.items()}
    parts["simulated callee / synthesis commands"] = (_rusage()[1] - kids) / calls
    parts["dialog engine and the rest"] = (total - sum(split.seconds.values())) / calls
    robot_s = sum(s for (who, _), s in split.seconds.items() if who == "robot")
    floor = _decode(robot.listener.recognizer, answers)
    return {"calls": calls, "completed": completed, "answers": len(answers),
            "turns": turns, "answered": answered,
            "decode_ms_per_answer": 1000 * floor / max(1, len(answers)),
            "callee_hears_every_prompt_s": ear_warmup,
            "cpu_s_per_call": sum(parts.values()), "robot_cpu_s_per_call": robot_s / calls,
            "callee_cpu_s_per_call": sum(parts.values()) - robot_s / calls,
            "parts_s_per_call": dict(sorted(parts.items(), key=lambda kv: -kv[1])),
            "decode_floor_s_per_call": floor / calls,
            **_naive(answers, ends)}


def _one_call(robot: Robot, sim: Simulation, cid: int) -> tuple[bool, int, int]:
    """One call through the robot's own call loop, on a simulated line: (completed, the
    callee's turns, questions answered with a value)."""
    line = SimulatedLine.with_person(sim, persona(7, cid, robot.survey))
    result = asyncio.run(run_survey(robot, line)).result
    answered = sum(a.value is not None for a in result.answers.values())
    return result.outcome == "completed", result.turns, answered


def _split() -> Split:
    split = Split()
    split.wrap(Hearing, "finish", "robot")
    split.wrap(FrameFeeder, "feed", "robot")
    split.wrap(Callee, "reply", "simulated callee")
    split.wrap(Callee, "render", "simulated callee")
    split.wrap(SimulatedLine, "_mix", "simulated callee")
    split.wrap(SphinxRecognizer, "_decode", "decoding")
    split.wrap(SphinxRecognizer, "_pcm", "resampling and band fill")
    split.wrap(Synthesizer, "speak", "synthesis")
    split.wrap(speech.endpoint, "levels", "endpointing")
    split.wrap(speech.dtmf, "detect", "keypad tones")
    for module, name in ((dialer.robot.turn, "ulaw_decode"), (dialer.robot.pickup, "ulaw_decode"),
                         (dialer.lines.simulated.line, "ulaw_encode"),
                         (dialer.lines.simulated.callee, "from_line")):
        split.wrap(module, name, "channel")
    return split


def _rusage() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def _decode(recognizer: Any, answers: list[tuple[Audio, Grammar]]) -> float:
    t = time.thread_time()
    for audio, grammar in answers:
        recognizer.recognize(audio, grammar)
    return time.thread_time() - t


def _naive(answers: list[tuple[Audio, Grammar]], ends: list[int]) -> dict[str, Any]:
    """Open dictation, a decoder per call, on the same endpointed answer audio.

    It costs about 13 times the robot, so only the first NAIVE_CALLS calls are decoded
    and their cost per answer is scaled to all the calls' answers: the benchmark stays
    under 10 minutes on a slow host."""
    from pocketsphinx import Decoder

    sample = ends[:NAIVE_CALLS]
    t = time.thread_time()
    for begin, end in zip([0, *sample], sample, strict=False):
        d = Decoder(logfn=os.devnull)  # the wheel's English LM and dictionary
        for audio, _ in answers[begin:end]:
            d.start_utt()
            d.process_raw(audio.resampled(16000).samples.tobytes(), full_utt=True)
            d.end_utt()
    per_answer = (time.thread_time() - t) / max(1, sample[-1] if sample else 0)
    # per call as in all the calls timed: their answers per call, at this cost each
    return {"naive_calls": len(sample), "naive_decode_s_per_answer": per_answer,
            "naive_decode_s_per_call": per_answer * len(answers) / max(1, len(ends))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=30, help="calls timed in one process")
    ap.add_argument("--contacts", type=int, default=200, help="contacts in the campaign")
    ap.add_argument("--lines", default="100,250,500,750,1000,1500", help="realtime ramp steps")
    ap.add_argument("--sip-lines", default="100,200,300",
                    help="ramp steps over SIP (far ends replaying recorded calls)")
    ap.add_argument("--window", type=float, default=20.0, help="seconds measured per step")
    ap.add_argument("--report-only", action="store_true",
                    help="write BENCHMARKS.md again from bench/results.json, measure nothing")
    ap.add_argument("--ramps-only", action="store_true",
                    help="measure the two realtime ramps again, keep the rest of results.json")
    args = ap.parse_args()
    if args.report_only:
        _write(json.loads((ROOT / "bench" / "results.json").read_text()))
        return
    if args.ramps_only:
        _ramps_again(args)
        return
    t0 = time.monotonic()
    command = (f"python bench/run.py --calls {args.calls} --contacts {args.contacts} "
               f"--lines {args.lines} --sip-lines {args.sip_lines} --window {args.window:g}")
    steps = [int(n) for n in args.lines.split(",")]
    cost, recorded = recorded_calls(args.calls)
    results: dict[str, Any] = {
        "date": date.today().isoformat(), "machine": _machine(), "command": command,
        "campaign": fast_campaign(args.contacts), "per_call": per_call(args.calls),
        "ramp": ramp(steps, args.window, os.cpu_count() or 1, str(DEFAULT_SURVEY)),
        "ramp_recorded": ramp(steps, args.window, os.cpu_count() or 1, str(DEFAULT_SURVEY),
                              recorded),
        "ramp_sip": ramp([int(n) for n in args.sip_lines.split(",")], args.window,
                         os.cpu_count() or 1, str(DEFAULT_SURVEY), recorded, sip=True),
        "recording": cost, "console": console_overhead()}
    results["bench_wall_s"] = time.monotonic() - t0
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=1))
    _write(results)


def _ramps_again(args: argparse.Namespace) -> None:
    """After a fix to the ramps' own measuring: the other sections stand as measured."""
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    steps = [int(n) for n in args.lines.split(",")]
    _, recorded = recorded_calls(args.calls)
    results["ramp"] = ramp(steps, args.window, os.cpu_count() or 1, str(DEFAULT_SURVEY))
    results["ramp_recorded"] = ramp(steps, args.window, os.cpu_count() or 1,
                                    str(DEFAULT_SURVEY), recorded)
    results["ramp_sip"] = ramp([int(n) for n in args.sip_lines.split(",")], args.window,
                               os.cpu_count() or 1, str(DEFAULT_SURVEY), recorded, sip=True)
    results["ramps_again"] = f"{date.today().isoformat()}: --ramps-only --lines {args.lines}"
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=1))
    _write(results)


def _write(results: dict[str, Any]) -> None:
    before_path = ROOT / "bench" / "before.json"
    before = json.loads(before_path.read_text()) if before_path.exists() else None
    (ROOT / "BENCHMARKS.md").write_text(table(results, before))
    print(table(results, before))


def _machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


if __name__ == "__main__":
    main()
