"""A simulated callee: a voice, habits, and a hidden truth the robot never sees."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from speech.tts import Voice
from survey_scripts.model import AnswerType, Survey

# Recognizers hear flite's voices better; espeak-ng variants keep the robot honest.
EN_VOICES = (
    (Voice("flite", "kal16", 165), 3), (Voice("flite", "slt", 165), 3),
    (Voice("flite", "rms", 165), 3), (Voice("flite", "awb", 165), 3),
    (Voice("espeak-ng", "gmw/en-us+klatt2", 165), 1), (Voice("espeak-ng", "gmw/en-us+f3", 160), 1),
    (Voice("espeak-ng", "gmw/en-us+klatt4", 170), 1),
)
KO_VOICES = ((Voice("espeak-ng", "ko", 150), 1), (Voice("espeak-ng", "ko+f3", 145), 1))
# hibari's bundled neural voice (Kokoro-82M distilled): nearer to people than the formant
# voices, and harder for pocketsphinx. A tenth of English callees speak with it, drawn
# from a stream of their own so every other persona keeps its voice.
HIBARI = Voice("hibari", "heart", 165)
HIBARI_SHARE = 0.1
ZH_VOICES = ((Voice("espeak-ng", "cmn", 150), 1), (Voice("espeak-ng", "cmn+f3", 145), 1))

PREVALENCE = {"fever": 0.2, "cough": 0.25, "breathing": 0.08, "taste_smell": 0.06,
              "contact": 0.1}
TRAVEL = {"none": 0.7, "district": 0.15, "province": 0.1, "abroad": 0.05}


@dataclass(frozen=True)
class Habits:
    """How a callee behaves, per turn probabilities unless said otherwise."""

    hesitate: float = 0.15  # "um, yes"
    off_script: float = 0.03  # "who is this?"
    ask_repeat: float = 0.03  # "repeat that"
    silent: float = 0.02  # says nothing
    keypad_only: bool = False  # answers with the keypad whenever it can
    refuses: bool = False  # says no to consent
    hangup_at: str | None = None  # hangs up when this question is asked
    snr_db: float | None = None  # background noise, None for a quiet room
    early: float = 0.0  # answers a question before it has been asked to the end


@dataclass(frozen=True)
class Persona:
    seed: int
    voice: Voice
    truth: dict[str, str | float] = field(hash=False)
    habits: Habits = Habits()


def make_persona(seed: int, survey: Survey) -> Persona:
    """The same seed gives the same person, the same voice and the same habits."""
    rng = random.Random(seed)
    voices = {"ko": KO_VOICES, "zh": ZH_VOICES}.get(survey.language.code, EN_VOICES)
    voice = rng.choices([v for v, _ in voices], weights=[w for _, w in voices])[0]
    if voices is EN_VOICES and random.Random(f"{seed}:hibari").random() < HIBARI_SHARE:
        voice = HIBARI
    truth: dict[str, str | float] = {"consent": "yes"}
    for q in survey.questions[1:]:
        if q.type == AnswerType.YES_NO:
            truth[q.id] = "yes" if rng.random() < PREVALENCE.get(q.id, 0.2) else "no"
        elif q.type == AnswerType.NUMBER:
            truth[q.id] = float(rng.randint(int(q.minimum), min(int(q.maximum), 14)))
        else:
            keys = list(q.options)
            weights = [TRAVEL.get(k, 1.0) for k in keys]
            truth[q.id] = rng.choices(keys, weights=weights)[0]
    habits = Habits(
        keypad_only=rng.random() < 0.05,
        refuses=rng.random() < 0.05,
        hangup_at=rng.choice([q.id for q in survey.questions[1:]]) if rng.random() < 0.03
        else None,
        snr_db=rng.choice([None, None, 30.0, 20.0]),
    )
    # drawn from a stream of its own, so every earlier draw (and so every call made
    # before full-duplex lines) stays as it was for the same seed
    early = random.Random(f"{seed}:early").choice((0.0, 0.0, 0.2, 0.5))
    habits = replace(habits, early=early)
    if habits.refuses:
        truth["consent"] = "no"
    return Persona(seed, voice, truth, habits)
