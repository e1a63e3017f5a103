"""Read-back replies with and without the garbage loop, on the corpora: what would
confirm (a "yes" understood) that was not a yes (issue 20's levers).

    python bench/confirm_replies.py [--weights 1e-16,1e-18]

Every corpus item heard as the reply to a read-back (the grammar yes, no and the
intents), with the garbage loop beside it and without; counts per source (real and
synthetic apart) of yeses and noes understood, right or not.
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="", help="garbage weights to try beside none")
    args = ap.parse_args()
    import numpy as np

    import speech.sphinx
    from dialer.recordings.corpus import PAD_S, manifest, read_callee
    from dialer.wire import EngineSpec
    from speech.channel import RATE, from_line, to_line
    from speech.engines import make_recognizer
    from speech.listener import Listener
    from speech.recognizer import Grammar
    from survey_scripts import DEFAULT_SURVEY
    from survey_scripts.certainty import understood
    from survey_scripts.loader import load_survey
    from survey_scripts.phrases import Intent, confirm_phrases

    lang = load_survey(DEFAULT_SURVEY).language
    table = confirm_phrases(lang)
    today = speech.sphinx.GARBAGE_WEIGHT
    ways: list[tuple[str, Listener, bool, float]] = [
        ("garbage, today's weight", Listener(make_recognizer(EngineSpec())), True, today),
        ("no garbage", Listener(make_recognizer(EngineSpec())), False, today)]
    ways += [(f"garbage weight {w}", Listener(make_recognizer(EngineSpec())), True, float(w))
             for w in filter(None, args.weights.split(","))]
    out: collections.Counter[tuple[object, ...]] = collections.Counter()
    pad = np.zeros(int(PAD_S * RATE), dtype=np.int16)
    for folder in ("real/tune", "real/held-out", "synthetic"):
        root = ROOT / "tests" / "corpus" / folder
        src = "real" if folder.startswith("real") else "synthetic"
        for row in manifest(root):
            line = from_line(to_line(read_callee(root / row["file"])))
            x = np.concatenate([pad, line.samples, pad, pad, pad])
            for way, listener, garbage, weight in ways:
                speech.sphinx.GARBAGE_WEIGHT = weight  # read as a grammar is first built
                grammar = Grammar(f"confirm:{way}", tuple(table), lang.fillers,
                                  garbage=garbage)
                heard = listener.listen(x, grammar).heard
                m = understood(heard, table, lang.fillers)
                said = m.value if m.intent == Intent.ANSWER else m.intent.value
                if said in ("yes", "no"):
                    out[(src, way, f"{said} understood",
                         "right" if row["expected"] == said else "wrong")] += 1
                out[(src, way, "items")] += 1
    for k in sorted(out, key=str):
        print(*k, out[k])


if __name__ == "__main__":
    main()
