"""What the phone line costs recognition (not a test): answers heard at 16 kHz vs through it.

    python bench/channel.py

Each simulated voice says the same in-grammar answers and off-script sentences;
the robot's recognizer decodes each against the survey's own grammar, once from
16 kHz audio and once through the 8 kHz mu-law line. The answers the line alone
loses are why first tries get re-asked (and cost turns, not recorded answers).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dialer.lines.simulated.persona import EN_VOICES  # noqa: E402
from speech.audio import Audio, to_int16  # noqa: E402
from speech.channel import RATE as LINE_RATE  # noqa: E402
from speech.channel import from_line, to_line  # noqa: E402
from speech.recognizer import Grammar  # noqa: E402
from speech.sphinx import RATE as WIDE_RATE  # noqa: E402
from speech.sphinx import SphinxRecognizer  # noqa: E402
from speech.tts import Synthesizer, Voice  # noqa: E402
from survey_scripts import DEFAULT_SURVEY  # noqa: E402
from survey_scripts.loader import load_survey  # noqa: E402
from survey_scripts.phrases import answer_phrases, interpret  # noqa: E402

# (question, what the callee says, the value it means; None: off-script, must be rejected)
ANSWERS: list[tuple[str, str, str | float | None]] = [
    *[("cough", t, "yes") for t in ("yes", "yeah", "yes i do", "um, yes")],
    *[("cough", t, "no") for t in ("no", "nope", "no i don't", "um, no")],
    *[("fever_days", t, float(v)) for t, v in (("three", 3), ("seven days", 7), ("fourteen", 14),
                                               ("two days", 2), ("twenty one", 21), ("five", 5))],
    *[("travel", t, v) for t, v in (("none", "none"), ("abroad", "abroad"),
                                    ("another province", "province"), ("nowhere", "none"))],
]
OFF_SCRIPT = ("who is this", "why are you calling me", "is this a real person",
              "i am driving right now", "what did you say", "hold on a second")


def _utterance(synth: Synthesizer, text: str, voice: Voice, rate: int,
               rng: np.random.Generator) -> Audio:
    """The voice with 0.3 s of quiet either side and a faint hiss; through the line at 8 kHz."""
    sound = synth.speak(text, voice).resampled(rate).samples
    pad = np.zeros(int(0.3 * rate), np.int16)
    x = np.concatenate([pad, sound, pad]).astype(np.float32) / 32768
    audio = Audio(to_int16(x + rng.standard_normal(len(x)).astype(np.float32) * 1e-3), rate)
    return from_line(to_line(audio)) if rate == LINE_RATE else audio


def measure(rate: int) -> Counter[str]:
    survey = load_survey(DEFAULT_SURVEY)
    lang, questions = survey.language, {q.id: q for q in survey.questions}
    synth, rec, rng = Synthesizer(), SphinxRecognizer(), np.random.default_rng(0)
    cases = ANSWERS + [(q, t, None) for t in OFF_SCRIPT for q in ("cough", "fever_days")]
    tally: Counter[str] = Counter()
    for voice in (v for v, _ in EN_VOICES):
        for qid, text, want in cases:
            table = answer_phrases(questions[qid], lang)
            heard = rec.recognize(_utterance(synth, text, voice, rate, rng),
                                  Grammar(qid, tuple(table), lang.fillers)).transcript
            if want is None:
                tally["off-script rejected" if not heard else "off-script accepted"] += 1
            else:
                value = interpret(heard, table, lang.fillers).value if heard else None
                # rejected, or heard as "repeat that": either way the question is asked again
                kind = "right" if value == want else "re-asked" if value is None else "wrong"
                tally[kind] += 1
                if kind == "re-asked":
                    tally[f"re-asked {voice.name}"] += 1
    return tally


def main() -> None:
    print(f"{len(EN_VOICES)} voices x {len(ANSWERS)} answers, {2 * len(OFF_SCRIPT)} off-script")
    for name, rate in (("16 kHz", WIDE_RATE), ("8 kHz line", LINE_RATE)):
        t = measure(rate)
        voices = ", ".join(f"{k[9:]} {n}" for k, n in sorted(t.items())
                           if k.startswith("re-asked "))
        print(f"{name}: right {t['right']}, re-asked {t['re-asked']}, wrong {t['wrong']}; "
              f"off-script rejected {t['off-script rejected']} of "
              f"{t['off-script rejected'] + t['off-script accepted']}; re-asked by voice: {voices}")


if __name__ == "__main__":
    main()
