"""Recognition CPU per answer, on a fixed set of endpointed answers, for before/after.

    python bench/decode_cost.py collect ANSWERS.pkl [--calls 30]
    python bench/decode_cost.py time ANSWERS.pkl [--passes 3] [--only sim|corpus]

`collect` keeps what the recognizer is handed: the endpointed answers of simulated
calls (the benchmark's decode floor) and of every item in tests/corpus (real and
synthetic). `time` decodes them all with this tree's recognizer and prints CPU
milliseconds per answer. Copy this file into another checkout's bench/ to time that
checkout on the same answers; farm-bench --vs runs the two back to back.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from speech.audio import Audio  # noqa: E402
from speech.recognizer import Grammar  # noqa: E402

Answers = dict[str, list[tuple[np.ndarray, int, Grammar]]]


def collect(calls: int, corpus: Path) -> Answers:
    from bench.run import _one_call
    from dialer.lines.simulated import build_simulation
    from dialer.recordings.corpus import PAD_S, manifest, read_callee
    from dialer.robot.robot import build_robot
    from dialer.wire import EngineSpec
    from speech.channel import RATE, from_line, to_line
    from speech.listener import Listener
    from survey_scripts import DEFAULT_SURVEY
    from survey_scripts.loader import load_survey
    from survey_scripts.phrases import answer_phrases

    survey = load_survey(DEFAULT_SURVEY)
    robot = build_robot(survey, EngineSpec())
    sim = build_simulation(survey, "pocketsphinx", robot.synth, robot.prompts())
    out: Answers = {"sim": [], "corpus": []}
    recognize = robot.listener.recognizer.recognize

    def kept(audio: Audio, grammar: Grammar):  # type: ignore[no-untyped-def]
        out["sim"].append((audio.samples.copy(), audio.rate, grammar))
        return recognize(audio, grammar)

    robot.listener.recognizer.recognize = kept  # type: ignore[method-assign]
    for cid in range(1, calls + 1):
        _one_call(robot, sim, cid)
    robot.listener.recognizer.recognize = recognize  # type: ignore[method-assign]

    class Keep:
        name = "keep"

        def recognize(self, audio: Audio, grammar: Grammar):  # type: ignore[no-untyped-def]
            out["corpus"].append((audio.samples.copy(), audio.rate, grammar))
            return recognize(audio, grammar)

    listener = Listener(Keep())  # type: ignore[arg-type]
    pad = np.zeros(int(PAD_S * RATE), dtype=np.int16)
    for folder in sorted(corpus.rglob("manifest.csv")):
        for row in manifest(folder.parent):
            q = survey.question(row["question"])
            line = from_line(to_line(read_callee(folder.parent / row["file"]).resampled(RATE)))
            listener.listen(np.concatenate([pad, line.samples, pad, pad, pad]),
                            Grammar(q.id, tuple(answer_phrases(q, survey.language)),
                                    survey.language.fillers))
    return out


def timed(answers: Answers, passes: int, only: str | None) -> dict[str, float]:
    from speech.sphinx import SphinxRecognizer

    rec = SphinxRecognizer()
    out = {}
    for name, items in answers.items():
        if only and name != only:
            continue
        for samples, rate, grammar in items[:20]:  # grammars built, model warm
            rec.recognize(Audio(samples, rate), grammar)
        t = time.thread_time()
        for _ in range(passes):
            for samples, rate, grammar in items:
                rec.recognize(Audio(samples, rate), grammar)
        out[name] = 1000 * (time.thread_time() - t) / (passes * len(items))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("collect", "time"))
    ap.add_argument("answers", help="the pickle of answers")
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--corpus", default=str(ROOT / "tests" / "corpus"), help="corpora to add")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--only", choices=("sim", "corpus"))
    args = ap.parse_args()
    if args.what == "collect":
        answers = collect(args.calls, Path(args.corpus))
        Path(args.answers).write_bytes(pickle.dumps(answers))
        print({k: len(v) for k, v in answers.items()})
        return
    answers = pickle.loads(Path(args.answers).read_bytes())
    for name, ms in timed(answers, args.passes, args.only).items():
        print(f"{name}: {len(answers[name])} answers, {ms:.2f} ms CPU per answer")


if __name__ == "__main__":
    main()
