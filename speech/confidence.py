"""How sure the recognizer is of an answer: evidence from the audio, made a probability.

The engine measures the evidence; a logistic model turns it into the probability
that the answer is what was said. Its coefficients are fitted by
`bench/fit_confidence.py` on labelled speech (tests/corpus: real/tune and four of
the seven synthetic voices) and checked on speech it never saw (real/held-out, the
other three voices). A probability holds for a population: the corpora are mostly
off-topic speech, so the fit weighs each as half answers, half off-topic (calls
have fewer); on the corpora's own mix it is over-confident. Refit whenever the
recognizer changes: the front end, the garbage weight or the beams change what
the evidence means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# fitted by bench/fit_confidence.py (see CHANGELOG, issue 13, for the data and figures).
# Issue 20 dropped the second pass and a garbage word: the features of a second guess
# no longer occur, and this fit stays within 10 points in the reliability bands it was
# within before; a refit on the new recognizer read back fewer answers but acted on
# more wrong ones unasked (corpora: real 9 against 8, synthetic 1 against 0): not taken.
COEF = (1.47, 6.4, 1.63, 1.16, 3.48, -3.42)
MAX_MARGIN = 3.0  # a second-pass margin beyond this says nothing more
MAX_FRAMES = 150  # 1.5 s of answer; longer is rare and no surer


@dataclass(frozen=True)
class Evidence:
    """What the decoder saw, per frame so that long and short answers compare."""

    first_pass: bool  # the answer beat the garbage loop; False: the bare grammar's guess
    acoustic: float  # the answer words' acoustic log-score per frame, in millinepers,
    # against the best senone of each frame (0 is a perfect fit)
    margin: float = 0.0  # second pass: how far the answer's path beat the garbage path's
    frames: int = 0  # 10 ms frames of the answer words

    def features(self) -> tuple[float, ...]:
        first = 1.0 if self.first_pass else 0.0
        margin = 0.0 if self.first_pass else min(self.margin, MAX_MARGIN)
        return (1.0, first, self.acoustic * first, self.acoustic * (1 - first), margin,
                min(self.frames, MAX_FRAMES) / 100)


def probability(e: Evidence, coef: tuple[float, ...] = COEF) -> float:
    z = sum(w * x for w, x in zip(coef, e.features(), strict=True))
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))
