"""healthdial's benchmark (not a test): fast-clock throughput against two references.

    python bench/run.py [--calls 40] [--contacts 200]

Writes BENCHMARKS.md and bench/results.json. Measured in the same run:
- campaign: a demo province on the embedded default, completed surveys per second
  and CPU seconds per completed call (all processes);
- per call, in one process: robot CPU (listening, recognition) apart from the
  simulated callee's (hearing prompts, speaking);
- decode floor: the grammar recognizer alone on the same answer audio;
- naive baseline: an open-dictation recognizer (pocketsphinx's English language
  model, a new decoder per call) on the same answer audio.
Not yet here: the realtime ramp (lines held, latency percentiles, RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dialer.call import exchange  # noqa: E402
from dialer.callee import Callee  # noqa: E402
from dialer.demo import demo  # noqa: E402
from dialer.dispatcher import RunParams  # noqa: E402
from dialer.population import persona  # noqa: E402
from dialer.stack import build_stack  # noqa: E402
from speech.audio import Audio  # noqa: E402
from speech.recognizer import Grammar  # noqa: E402
from survey_scripts.dialog import Dialog, Heard  # noqa: E402


def per_call(calls: int) -> dict[str, float]:
    """Run calls in this process, timing the robot's side apart from the callee's."""
    stack = build_stack(None)
    robot = stack.robot
    answers: list[tuple[Audio, Grammar]] = []  # what the recognizer got, after endpointing
    robot_s = 0.0
    hear, recognizer = robot.hear, robot.listener.recognizer
    recognize = recognizer.recognize

    def timed_hear(incoming: bytes, prompt):  # type: ignore[no-untyped-def]
        nonlocal robot_s
        t = time.thread_time()
        heard = hear(incoming, prompt)
        robot_s += time.thread_time() - t
        return heard

    def kept(audio: Audio, grammar: Grammar):  # type: ignore[no-untyped-def]
        answers.append((audio, grammar))
        return recognize(audio, grammar)

    robot.hear = timed_hear  # type: ignore[method-assign]
    recognizer.recognize = kept  # type: ignore[method-assign]
    start = time.thread_time()
    completed = 0
    for cid in range(1, calls + 1):
        callee = Callee(persona(7, cid, stack.survey), stack.survey, stack.ear)
        flow = Dialog(stack.survey).run()
        prompt = next(flow)
        while True:
            heard = Heard(hangup=True) if prompt.listen is None else exchange(
                robot, callee, prompt)[0]
            try:
                prompt = flow.send(heard)
            except StopIteration as stop:
                completed += stop.value.outcome == "completed"
                break
    total = time.thread_time() - start
    recognizer.recognize = recognize  # type: ignore[method-assign]
    floor = _decode(recognizer, answers)
    naive = _naive(answers, calls)
    return {"calls": calls, "completed": completed, "answers": len(answers),
            "cpu_s_per_call": total / calls, "robot_cpu_s_per_call": robot_s / calls,
            "callee_cpu_s_per_call": (total - robot_s) / calls,
            "decode_floor_s_per_call": floor / calls, "naive_decode_s_per_call": naive / calls}


def _decode(recognizer, answers) -> float:  # type: ignore[no-untyped-def]
    t = time.thread_time()
    for audio, grammar in answers:
        recognizer.recognize(audio, grammar)
    return time.thread_time() - t


def _naive(answers, calls: int) -> float:  # type: ignore[no-untyped-def]
    """Open dictation, a decoder per call, on the same endpointed answer audio."""
    from pocketsphinx import Decoder

    per = max(1, len(answers) // calls)
    t = time.thread_time()
    for i in range(0, len(answers), per):
        d = Decoder(logfn=os.devnull)  # the wheel's English LM and dictionary
        for audio, _ in answers[i:i + per]:
            pcm = audio.resampled(16000).samples.tobytes()
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
    return time.thread_time() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--contacts", type=int, default=200)
    args = ap.parse_args()
    campaign = demo(args.contacts, RunParams(lines=200), seed=11, progress=False)
    calls = per_call(args.calls)
    results = {"date": date.today().isoformat(), "machine": _machine(),
               "command": f"python bench/run.py --calls {args.calls} --contacts {args.contacts}",
               "campaign": {k: campaign[k] for k in ("contacts", "attempts", "completed",
                                                    "calls_per_s", "cpu_s_per_completed_call",
                                                    "wall_s")},
               "per_call": calls}
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=1))
    (ROOT / "BENCHMARKS.md").write_text(_table(results))
    print(_table(results))


def _machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _table(r: dict) -> str:  # type: ignore[type-arg]
    c, p = r["campaign"], r["per_call"]
    floor, naive = p["decode_floor_s_per_call"], p["naive_decode_s_per_call"]
    rows = [
        ("completed surveys per second (campaign, fast clock)", f"{c['calls_per_s']:.2f}"),
        ("CPU s per completed call (campaign, all processes)",
         f"{c['cpu_s_per_completed_call']:.2f}"),
        ("CPU s per call, one process (robot + callee)", f"{p['cpu_s_per_call']:.3f}"),
        ("  robot: listening and recognition", f"{p['robot_cpu_s_per_call']:.3f}"),
        ("  simulated callee: hearing prompts, speaking", f"{p['callee_cpu_s_per_call']:.3f}"),
        ("decode floor: grammar recognizer alone, s per call", f"{floor:.3f}"),
        ("naive baseline: open dictation per call, s per call", f"{naive:.3f}"),
        ("robot CPU / decode floor (both decoding passes)",
         f"{p['robot_cpu_s_per_call'] / floor:.2f}x"),
        ("naive baseline / robot CPU", f"{naive / p['robot_cpu_s_per_call']:.2f}x"),
    ]
    body = "\n".join(f"| {a} | {b} |" for a, b in rows)
    return (f"# Benchmarks\n\nMade by `{r['command']}` on {r['date']}, {r['machine']}.\n"
            f"Campaign: {c['contacts']} contacts, {c['attempts']} attempts, "
            f"{c['completed']} completed in {c['wall_s']:.0f} s.\n"
            f"Per call: {p['calls']} calls, {p['answers']} answers heard.\n\n"
            f"| measure | value |\n|---|---|\n{body}\n\n"
            "Not yet measured: the realtime ramp (lines held, latency p50/p95/p99, lag, RSS).\n")


if __name__ == "__main__":
    main()
