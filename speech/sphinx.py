"""pocketsphinx: the US-English model its wheel ships, so a fresh machine needs no download.

Rejection. A grammar always finds some match, so the question's grammar is
decoded beside a loop of common English words (a garbage model), weighted down.
Speech that does not answer the question is taken by the garbage loop.

Confidence. An answer's evidence (speech/confidence.py) is its acoustic fit per
frame against the best senone of each frame, which the decoder's segments carry
at no cost. With `second_pass` (off by default: SECOND_PASS), when the garbage
loop wins, the same audio is decoded again with the bare grammar: its best answer
comes back with the margin by which it lost, and a low confidence, so the dialog
can read it back instead of asking again.
"""

from __future__ import annotations

import logging
import math
import os
import re

import numpy as np

from speech.audio import Audio
from speech.confidence import Evidence, probability
from speech.recognizer import Grammar, Recognition
from survey_scripts.errors import EngineError

log = logging.getLogger(__name__)
RATE = 16000  # the model's rate; phone audio is upsampled to it
# prior of the garbage loop against the answers; at 1e-20 "yes" passes as "no"
GARBAGE_WEIGHT = 1e-16
# The model was trained on 16 kHz speech with filters up to 6.8 kHz; phone audio is
# empty above 4 kHz, and empty filters wreck the cepstra: noise at -40 dBFS in that band
# alone keeps them sane. Tried on the corpora instead (CHANGELOG, issue 13): no fill,
# other levels, folding, an envelope from the 3-4 kHz band, live CMN, no noise removal,
# a noise floor over the whole band, MLLR adaptation; none was better on both real and
# synthetic speech. Without it, short synthetic "yes" replies fell below UNSURE.
BAND_FILL = 0.01
# Narrower than the defaults (1e-48): 3-5x faster on short grammars, same accuracy here.
BEAMS = {"beam": 1e-30, "pbeam": 1e-30, "wbeam": 1e-20}
# What the decoder is made with; bench/levers.py tries others on the corpora.
DECODER: dict[str, object] = {"bestpath": False, **BEAMS}
# Short common words whose phones cover most of English: speech that is not an
# answer is taken by a loop of them. A 200-word list rejected no better and cost 3-10x.
_GARBAGE = (
    "a the to of and in it is i you he we me be see do go so by my day say way may saw "
    "low new how now out up at as on an or if us them this that was but all what who why"
).split()
# Off-topic speech as up to three garbage words in a row (each a copy of the word list
# in the search). Four cost 29% more CPU per answer with the second pass, for no
# fewer wrong answers on the corpora (bench/levers.py; BENCHMARKS.md, issue 20);
# two let more off-topic speech through as answers.
GARBAGE_PATH = "<g> [<g>] [<g>]"
# The bare grammar's second guess at what the garbage took: off by default since issue
# 20. It cost 17% of the decoding, and without it the corpora had fewer wrong answers
# (real speech: 61 against 67 of 282) and no more wrong unread; the simulated calls
# had the same answers right in about as many turns.
SECOND_PASS = False
_FILL_S = 20  # seconds of band noise kept; a longer utterance gets it repeated
_SIL = {"<s>", "</s>", "<sil>", "[NOISE]", "(NULL)"}


def _word(w: str) -> str:
    return re.sub(r"\(\d+\)$", "", w)


class SphinxRecognizer:
    name = "pocketsphinx"

    def __init__(self, garbage: bool = True, band_fill: float = BAND_FILL,
                 second_pass: bool = SECOND_PASS) -> None:
        from pocketsphinx import Decoder

        try:
            self._d = Decoder(lm=None, logfn=os.devnull, samprate=RATE, **DECODER)
        except RuntimeError as e:
            raise EngineError(f"pocketsphinx cannot start: {e}") from e
        self._garbage_on = garbage
        self._second_pass = second_pass
        self._fill = band_fill
        self._fills: dict[int, np.ndarray] = {}
        self._searches: set[str] = set()

    def known(self, word: str) -> bool:
        """Whether the dictionary can say `word` (grammars may use only such words)."""
        return self._d.lookup_word(word) is not None

    def unknown_words(self, words: list[str]) -> list[str]:
        return [w for w in words if not self.known(w)]

    def _jsgf(self, g: Grammar, garbage: bool) -> str:
        words = {w for p in g.phrases for w in p.split()}
        missing = sorted(w for w in words | set(g.fillers) if self._d.lookup_word(w) is None)
        if missing:
            raise EngineError(f"grammar '{g.key}': words not in the pocketsphinx dictionary: "
                              f"{', '.join(missing)}; reword the survey with common words")
        alts = " | ".join(f"( {p} )" for p in g.phrases)
        if g.loop:
            return f"#JSGF V1.0; grammar g; public <s> = <a>+; <a> = {alts};"
        fill = " | ".join(g.fillers) or "<NULL>"
        body = "<a>"
        extra = ""
        if garbage:
            junk = [w for w in _GARBAGE if w not in words and self._d.lookup_word(w)]
            # the garbage loop is weighted down: it must fit far better than any answer
            body = f"( /1/ <a> | /{GARBAGE_WEIGHT}/ {GARBAGE_PATH} )"
            extra = f" <g> = {' | '.join(junk)};"
        return (f"#JSGF V1.0; grammar g; public <s> = [<f>] {body} [<f>]; "
                f"<a> = {alts}; <f> = {fill};{extra}")

    def _search(self, g: Grammar, garbage: bool) -> str:
        name = f"{g.key}/{'g' if garbage else 'a'}/{hash(g.phrases) & 0xFFFFFFFF:x}"
        if name not in self._searches:
            self._d.add_jsgf_string(name, self._jsgf(g, garbage))
            self._searches.add(name)
        return name

    def _decode(self, pcm: bytes, search: str) -> list[str]:
        self._d.activate_search(search)
        # the front end keeps noise and CMN estimates from the last utterance; reset them,
        # so an answer is heard the same whatever this process decoded before (1.5 ms)
        self._d.reinit_feat()
        self._d.start_utt()
        self._d.process_raw(pcm, full_utt=True)
        self._d.end_utt()
        if self._d.hyp() is None:  # nothing decoded (silence, or no path through the grammar)
            return []
        return [_word(s.word) for s in self._d.seg() if s.word not in _SIL]

    def _pcm(self, audio: Audio) -> bytes:
        """16 kHz for the model; with a band fill, faint noise where the line cut the band."""
        up = audio.resampled(RATE).samples
        if audio.rate >= RATE or self._fill <= 0:
            return up.tobytes()
        fill = self._band_noise(audio.rate, len(up))
        return np.clip(up + fill, -32768, 32767).astype(np.int16).tobytes()

    def _band_noise(self, line_rate: int, n: int) -> np.ndarray:
        """A slice of one long noise made once (an FFT per utterance cost 1 ms per answer),
        repeated past its end: the same audio gets the same noise whatever came before."""
        noise = self._fills.get(line_rate)
        if noise is None:
            size = _FILL_S * RATE
            spec = np.fft.rfft(np.random.default_rng(size).standard_normal(size))
            spec[np.fft.rfftfreq(size, 1 / RATE) < line_rate / 2] = 0
            noise = np.fft.irfft(spec, size)
            noise = noise / np.sqrt(np.mean(noise**2)) * self._fill * 32768
            self._fills[line_rate] = noise
        return noise[:n] if n <= len(noise) else np.resize(noise, n)

    def recognize(self, audio: Audio, grammar: Grammar) -> Recognition:
        pcm = self._pcm(audio)
        garbage = self._garbage_on and grammar.garbage and not grammar.loop
        said = self._decode(pcm, self._search(grammar, garbage))
        raw = " ".join(said)
        text = " ".join(w for w in said if w not in grammar.fillers)
        if text and (grammar.loop or text in grammar.phrases):
            acoustic, frames = self._acoustic(grammar)
            return self._answer(text, raw, Evidence(True, acoustic, frames=frames))
        # silence, or the garbage loop took the speech: no answer unless the second pass
        if not said or not garbage or not self._second_pass:
            return Recognition("", 0.0, rejected=True, raw=raw)
        lost_by = self._path_score()
        said = self._decode(pcm, self._search(grammar, False))
        text = " ".join(w for w in said if w not in grammar.fillers)
        if text not in grammar.phrases:
            return Recognition("", 0.0, rejected=True, raw=raw)
        margin = (self._path_score() - lost_by) * 1000 / max(1, self._d.n_frames())
        acoustic, frames = self._acoustic(grammar)
        return self._answer(text, f"{raw} | second pass: {' '.join(said)}",
                            Evidence(False, acoustic, margin, frames))

    @staticmethod
    def _answer(text: str, raw: str, e: Evidence) -> Recognition:
        return Recognition(text, probability(e), raw=raw, evidence=e)

    def _path_score(self) -> float:
        """The best path's log-score (the bindings hand it back exponentiated)."""
        hyp = self._d.hyp()
        return math.log(max(hyp.best_score, 1e-300)) if hyp is not None else -math.inf

    def _acoustic(self, grammar: Grammar) -> tuple[float, int]:
        """The answer words' acoustic log-score per frame (millinepers), and their frames."""
        score, frames = 0.0, 0
        for s in self._d.seg():
            if s.word in _SIL or _word(s.word) in grammar.fillers:
                continue
            score += math.log(max(s.ascore, 1e-300))
            frames += s.end_frame - s.start_frame + 1
        return score * 1000 / max(1, frames), frames
