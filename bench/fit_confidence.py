"""Fits the confidence model (speech/confidence.py) and prints its reliability tables.

    python bench/fit_confidence.py [--json OUT]

Every item of tests/corpus goes through the phone line, the endpointer and the
question's grammar as in a call; each answer the recognizer offers (first pass or
second) is labelled right or wrong against the manifest. The model is fitted on
real/tune and four synthetic voices, and checked on what it never saw: the other
three voices and real/held-out. A reliability table lists equal-count bands (at
least 30 items each): the mean confidence in a band against the share right.

The mix. A probability is only calibrated for a population. The corpora are mostly
off-topic speech (to measure rejection), calls mostly answers: so each item is
weighted as if OFFTOPIC of the speech were off-topic (the simulated callees go off
script 3% of the time; people more), in the fit and in the tables; the tables
also give the corpus's own mix, unweighted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dialer.recordings.corpus import PAD_S, manifest, read_callee  # noqa: E402
from dialer.recordings.scoring import Verdict, corpus_verdict  # noqa: E402
from speech.channel import RATE, from_line, to_line  # noqa: E402
from speech.confidence import COEF, Evidence, probability  # noqa: E402
from speech.listener import Listener  # noqa: E402
from speech.recognizer import Grammar  # noqa: E402
from speech.sphinx import SphinxRecognizer  # noqa: E402
from survey_scripts import DEFAULT_SURVEY  # noqa: E402
from survey_scripts.loader import load_survey  # noqa: E402
from survey_scripts.phrases import Intent, answer_phrases, interpret  # noqa: E402

CORPUS = ROOT / "tests" / "corpus"
FIT_VOICES = ("flite:awb", "flite:kal16", "flite:rms", "espeak-ng:gmw/en-us+f3")
BAND = 30
OFFTOPIC = 0.5  # the share of replies that answer nothing, assumed (see the mix)


def offers(folder: Path) -> list[dict[str, object]]:
    """Each answer the recognizer offers for an item, with its evidence and label."""
    survey = load_survey(DEFAULT_SURVEY)
    listener = Listener(SphinxRecognizer())
    pad = np.zeros(int(PAD_S * RATE), dtype=np.int16)
    out: list[dict[str, object]] = []
    for row in manifest(folder):
        q = survey.question(row["question"])
        table = answer_phrases(q, survey.language)
        audio = from_line(to_line(read_callee(folder / row["file"]).resampled(RATE)))
        turn = listener.listen(np.concatenate([pad, audio.samples, pad, pad, pad]),
                               Grammar(q.id, tuple(table), survey.language.fillers))
        rec = turn.recognition
        if rec is None or rec.evidence is None:
            continue
        meaning = interpret(rec.transcript, table, survey.language.fillers)
        value = meaning.value if meaning.intent == Intent.ANSWER else meaning.intent.value
        right = corpus_verdict(value, row["expected"]) == Verdict.RIGHT
        fit = (row.get("source") == "real" and folder.name == "tune") or any(
            row.get("speaker", "").startswith(v) for v in FIT_VOICES)
        out.append({"corpus": str(folder.relative_to(CORPUS)), "file": row["file"],
                    "speaker": row.get("speaker", ""),
                    "question": q.id, "expected": row["expected"], "heard": value,
                    "right": right, "fit": fit, "evidence": asdict(rec.evidence)})
    return out


def mix(folder: Path, share: float) -> dict[bool, float]:
    """Per-item weights (by off-topic or not) that give a corpus the call's mix."""
    rows = manifest(folder)
    off = sum(r["expected"] == "reject" for r in rows)
    on = len(rows) - off
    return {True: share * len(rows) / max(1, off), False: (1 - share) * len(rows) / max(1, on)}


def weigh(rows: list[dict[str, object]], share: float | None) -> None:
    """Each offer's weight in the call's mix (1 everywhere when share is None)."""
    weights = {c: mix(CORPUS / c, share) for c in {str(r["corpus"]) for r in rows}} \
        if share is not None else {}
    for r in rows:
        w = weights.get(str(r["corpus"]))
        r["weight"] = w[r["expected"] == "reject"] if w else 1.0


def fit(rows: list[dict[str, object]], l2: float = 1e-2) -> tuple[float, ...]:
    """Logistic regression by Newton's method (six features, a few hundred rows). Real
    speech weighs as much as all the synthetic voices together: the robot talks to people."""
    x = np.array([Evidence(**r["evidence"]).features() for r in rows])  # type: ignore[arg-type]
    y = np.array([float(bool(r["right"])) for r in rows])
    real = np.array([r["corpus"] == "real/tune" for r in rows])
    m = np.array([float(r.get("weight", 1.0)) for r in rows])  # type: ignore[arg-type]
    s = m * np.where(real, (m * ~real).sum() / max(1e-9, (m * real).sum()), 1.0)
    w = np.zeros(x.shape[1])
    for _ in range(60):
        p = 1 / (1 + np.exp(-x @ w))
        hess = x.T @ (x * (s * p * (1 - p))[:, None]) + l2 * np.eye(len(w))
        w += np.linalg.solve(hess, x.T @ (s * (y - p)) - l2 * w)
    return tuple(round(float(v), 2) for v in w)


def reliability(rows: list[dict[str, object]], coef: tuple[float, ...],
                weighted: bool = True) -> list[dict[str, float]]:
    """Equal-count bands of at least BAND items: mean confidence against the share right,
    in the call's mix (weighted) or the corpus's own."""
    scored = sorted((probability(Evidence(**r["evidence"]), coef), bool(r["right"]),  # type: ignore[arg-type]
                     float(r.get("weight", 1.0)) if weighted else 1.0)  # type: ignore[arg-type]
                    for r in rows)
    bands, i = [], 0
    while i < len(scored):
        j = len(scored) if len(scored) - i < 2 * BAND else i + BAND
        chunk = scored[i:j]
        w = [m for _, _, m in chunk]
        conf = float(np.average([c for c, _, _ in chunk], weights=w))
        right = float(np.average([r for _, r, _ in chunk], weights=w))
        bands.append({"from": chunk[0][0], "to": chunk[-1][0], "items": len(chunk),
                      "confidence": conf, "right": right, "within_10": abs(conf - right) <= 0.10})
        i = j
    return bands


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write the offers, coefficients and tables here")
    ap.add_argument("--offtopic", type=float, default=OFFTOPIC,
                    help=f"share of off-topic replies in a call (default {OFFTOPIC})")
    args = ap.parse_args()
    rows = [r for c in ("real/tune", "synthetic", "real/held-out") for r in offers(CORPUS / c)]
    weigh(rows, args.offtopic)
    coef = fit([r for r in rows if r["fit"]])
    print(f"fitted COEF = {coef}; speech/confidence.py has {COEF}"
          f"{'' if coef == COEF else ': paste the fitted one there and run again'}")
    sets = {"fit (real/tune + 4 synthetic voices)": [r for r in rows if r["fit"]],
            "synthetic, 3 voices not fitted": [r for r in rows if r["corpus"] == "synthetic"
                                               and not r["fit"]],
            "real/held-out": [r for r in rows if r["corpus"] == "real/held-out"]}
    tables = {}
    for (name, subset), weighted in itertools.product(sets.items(), (True, False)):
        label = f"{name}, {'the call mix' if weighted else 'the corpus mix'}"
        tables[label] = reliability(subset, COEF, weighted)
        print(f"\n{label}: {len(subset)} answers offered, confidence with the shipped COEF")
        for b in tables[label]:
            print(f"  confidence {b['from']:.2f}-{b['to']:.2f}  items {b['items']:3d}  "
                  f"mean {b['confidence']:.2f}  right {b['right']:.2f}  "
                  f"{'within 10 points' if b['within_10'] else 'OFF by more than 10'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"coef": coef, "shipped": COEF, "rows": rows,
                                               "tables": tables}, indent=1))


if __name__ == "__main__":
    main()
