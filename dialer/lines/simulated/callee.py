"""The simulated callee: hears the robot's prompt audio, answers with synthesized speech.

It lives with the lines, not the robot: it understands prompts by recognizing
their audio (a sentence grammar of the survey's prompts, as a person knows what
can be asked), and answers from its hidden truth through the phone channel.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

import numpy as np

from dialer.lines.simulated.persona import Persona
from speech import dtmf
from speech.audio import to_int16
from speech.channel import RATE, from_line
from speech.recognizer import Grammar, Recognizer
from speech.tts import Synthesizer
from survey_scripts.model import AnswerType, Question, Survey
from survey_scripts.numbers import to_words
from survey_scripts.phrases import spoken_value
from survey_scripts.prompts import PromptKind, Said, every_prompt

OFF_SCRIPT = {"en": ("who is this", "why are you calling me", "is this a real person",
                     "i am driving right now"),
              "ko": ("누구세요", "왜 전화하셨어요"), "zh": ("你是谁", "你为什么给我打电话")}
REPEAT = {"en": ("repeat that", "say that again"), "ko": ("다시",), "zh": ("再说一遍",)}
HELLO = {"en": "hello?", "ko": "여보세요", "zh": "喂？"}
HESITATE = {"en": "um, ", "ko": "음 ", "zh": "嗯，"}


@dataclass(frozen=True)
class PromptMeaning:
    kind: str  # question, keypad, confirm, goodbye
    question_id: str | None = None
    value: str | None = None  # the value read back in a confirmation, or said back first
    implied_id: str | None = None  # the question whose answer the prompt says back first


@dataclass(frozen=True)
class Reply:
    kind: str  # speech, digits, silence, hangup
    text: str = ""


KINDS = {PromptKind.QUESTION: "question", PromptKind.REPROMPT: "question",
         PromptKind.CONFIRM: "confirm", PromptKind.KEYPAD: "keypad", PromptKind.GOODBYE: "goodbye"}


def _meaning(said: Said) -> PromptMeaning:
    """What a person takes a prompt for: a keypad question's prompts ask for keys."""
    asked = said.kind in (PromptKind.QUESTION, PromptKind.REPROMPT)
    kind = "keypad" if said.keys and asked else KINDS[said.kind]
    return PromptMeaning(kind, said.question_id if asked else None, said.value,
                         said.implied_id)


def _normalize(text: str, known: object) -> str:
    """Words as a recognizer writes them: lower case, digits spelled out."""
    words = re.sub(r"[^\w' ]+", " ", text.lower()).split()
    words = [w2 for w in words for w2 in (to_words(int(w)).split() if w.isdigit() else [w])]
    check = getattr(known, "known", None)
    return " ".join(w for w in words if check is None or check(w))


def _key(line: bytes) -> bytes:
    return hashlib.blake2b(line, digest_size=16).digest()


class Ear:
    """What a callee makes of the robot's prompt audio."""

    def __init__(self, survey: Survey, recognizer: Recognizer) -> None:
        meanings: dict[str, PromptMeaning] = {}
        sentences: set[str] = set()
        plain = {s.text for s in every_prompt(survey)}
        for said in every_prompt(survey, notice=True):
            parts = [_normalize(x, recognizer) for x in re.split(r"(?<=[.?!])\s+", said.text)]
            if said.text in plain:  # the notice's opening is found by its nearest sentences
                sentences.update(p for p in parts if p)
            meanings.setdefault(" ".join(p for p in parts if p), _meaning(said))
        meanings.pop("", None)
        self.meanings = meanings
        # any sequence of the prompts' sentences: a whole multi-sentence prompt as one
        # path falls off the decoder's beam, single sentences do not
        self.grammar = Grammar(f"ear:{survey.name}", tuple(sorted(sentences)), loop=True)
        self.recognizer = recognizer
        self._memo: dict[bytes, PromptMeaning | None] = {}

    def hear(self, line: bytes) -> PromptMeaning | None:
        """Understand a prompt; the same audio is understood the same way, so remember it."""
        key = _key(line)
        if key not in self._memo:
            rec = self.recognizer.recognize(from_line(line), self.grammar)
            exact = self.meanings.get(rec.transcript)
            self._memo[key] = exact or self._nearest(rec.transcript)
        return self._memo[key]

    def knows(self, line: bytes) -> bool:
        """Whether this audio was heard before (hearing it again costs nothing)."""
        return _key(line) in self._memo

    def remember(self, line: bytes, meaning: PromptMeaning | None) -> None:
        """What another ear (another process's: dialer/simulation/farend.py) made of it."""
        self._memo[_key(line)] = meaning

    def warm(self, lines: list[bytes]) -> None:
        """Hear these prompts now, so a call does not wait while a callee first hears them
        (a prompt several seconds long holds the process for a tenth of a second)."""
        for line in lines:
            self.hear(line)

    def _nearest(self, raw: str) -> PromptMeaning | None:
        """The prompt sentence that shares the most words with what was heard."""
        said = raw.split()
        if not said:
            return None

        def overlap(sentence: str) -> float:
            words = sentence.split()
            common = sum(min(said.count(w), words.count(w)) for w in set(words))
            return 2 * common / (len(words) + len(said))

        best = max(self.meanings, key=overlap)
        return self.meanings[best] if overlap(best) >= 0.35 else None


class SoundEar:
    """What a callee makes of a prompt by its sound alone: the prompt it sounds most like.

    For languages whose recognizer cannot follow the robot's synthetic voice over the
    phone band (vosk's small Korean model hears espeak-ng's Korean as noise), the callee
    compares the sound with the sound of each prompt it knows, as a person who has heard
    the questions before would: coarse band energies per 20 ms frame, correlated. Only
    the simulated callee uses this; the robot still decides from recognition."""

    _BANDS = ((250, 600), (600, 1200), (1200, 2400), (2400, 3600))

    def __init__(self, survey: Survey, prompts: dict[str, bytes]) -> None:
        self._known: list[tuple[np.ndarray, PromptMeaning]] = []
        for said in every_prompt(survey, notice=True):
            self._known.append((self._sound(prompts[said.text]), _meaning(said)))
        self._memo: dict[bytes, PromptMeaning | None] = {}

    @classmethod
    def _sound(cls, line: bytes) -> np.ndarray:
        x = from_line(line).samples.astype(np.float64)
        n = len(x) // 160
        spec = np.abs(np.fft.rfft(x[:n * 160].reshape(n, 160) * np.hanning(160), axis=1)) ** 2
        freqs = np.fft.rfftfreq(160, 1 / RATE)
        bands = np.stack([spec[:, (freqs >= lo) & (freqs < hi)].sum(axis=1)
                          for lo, hi in cls._BANDS], axis=1)
        feats = np.log10(bands + 1.0)
        return (feats - feats.mean()) / (feats.std() + 1e-9)

    def hear(self, line: bytes) -> PromptMeaning | None:
        key = _key(line)
        if key not in self._memo:
            heard = self._sound(line)
            best, score = None, 0.5  # below this likeness, it was no prompt it knows

            for known, meaning in self._known:
                if abs(len(known) - len(heard)) > 0.15 * len(known):
                    continue
                n = min(len(known), len(heard))
                likeness = float(np.mean(known[:n] * heard[:n]))
                if likeness > score:
                    best, score = meaning, likeness
            self._memo[key] = best
        return self._memo[key]

    def warm(self, lines: list[bytes]) -> None:
        for line in lines:
            self.hear(line)


class Callee:
    """One person on one call: decides each reply from what it heard and its truth."""

    def __init__(self, persona: Persona, survey: Survey, ear: Ear | SoundEar,
                 attempt: int = 1) -> None:
        self.p = persona
        self.survey = survey
        self.ear = ear
        self.lang = survey.language
        self.rng = random.Random(persona.seed * 7919 + attempt)
        self.current: Question | None = None
        self.heard_kind: str | None = None  # what the last prompt was, as this callee took it
        self._asked_repeat: set[str] = set()

    def reply(self, prompt_line: bytes) -> Reply:
        heard = self.ear.hear(prompt_line)
        self.heard_kind = heard.kind if heard else None
        h = self.p.habits
        if heard is None:
            return Reply("speech", self.rng.choice(REPEAT.get(self.lang.code, REPEAT["en"])))
        if heard.kind == "goodbye":
            return Reply("hangup")
        if heard.implied_id and self._said_back_wrong(heard.implied_id, heard.value):
            return Reply("speech", self.rng.choice(self.lang.go_back[:2]))
        if heard.kind in ("question", "keypad") and heard.question_id:
            self.current = self.survey.question(heard.question_id)
            if h.hangup_at == heard.question_id:
                return Reply("hangup")
        q = self.current
        if q is None:
            return Reply("silence")
        truth = self.p.truth.get(q.id)
        if heard.kind == "keypad":
            if q.keys_only and self.rng.random() < h.silent:
                return Reply("silence")  # pressed nothing
            return Reply("digits", _keys(q, truth))
        if heard.kind == "confirm":
            right = heard.value == spoken_value(q, truth, self.lang) if truth is not None else False
            if q.keys_only:
                return Reply("digits", "1" if right else "2")
            return Reply("speech", self._say_yes_no("yes" if right else "no"))
        return self._answer(q, truth)

    def _said_back_wrong(self, qid: str, value: str | None) -> bool:
        """A person corrects an answer said back wrong before answering what comes next."""
        q, truth = self.survey.question(qid), self.p.truth.get(qid)
        return truth is None or value != spoken_value(q, truth, self.lang)

    def _answer(self, q: Question, truth: str | float | None) -> Reply:
        h, r = self.p.habits, self.rng.random()
        if h.keypad_only:
            return Reply("digits", _keys(q, truth))
        if r < h.silent:
            return Reply("silence")
        if r < h.silent + h.off_script:
            said = OFF_SCRIPT.get(self.lang.code, OFF_SCRIPT["en"])
            return Reply("speech", self.rng.choice(said))
        if r < h.silent + h.off_script + h.ask_repeat and q.id not in self._asked_repeat:
            self._asked_repeat.add(q.id)
            return Reply("speech", self.rng.choice(REPEAT.get(self.lang.code, REPEAT["en"])))
        if q.type == AnswerType.YES_NO:
            text = self._say_yes_no(str(truth))
        elif q.type == AnswerType.NUMBER:
            text = to_words(float(truth or 0), self.lang.code)
            if q.unit and self.rng.random() < 0.5:
                text += f" {q.unit}"
        else:
            text = self.rng.choice(q.options[str(truth)])
        if self.rng.random() < h.hesitate:
            text = HESITATE.get(self.lang.code, HESITATE["en"]) + text
        return Reply("speech", text)

    def hello(self, synth: Synthesizer) -> np.ndarray:
        """How this person picks up the phone."""
        return self.render(Reply("speech", HELLO.get(self.lang.code, HELLO["en"])), synth)

    def _say_yes_no(self, value: str) -> str:
        words = self.lang.yes if value == "yes" else self.lang.no
        return self.rng.choice(words[:3])

    def render(self, reply: Reply, synth: Synthesizer) -> np.ndarray:
        """The callee's side of the line at 8 kHz, before the channel: pause, voice, pause."""
        rng = np.random.default_rng(self.rng.randrange(2**32))
        pause = np.zeros(int(rng.uniform(0.25, 0.7) * RATE), dtype=np.int16)
        if reply.kind == "digits":
            sound = dtmf.tones(reply.text)
        elif reply.kind == "speech":
            sound = synth.speak(reply.text, self.p.voice).resampled(RATE).samples
        else:
            sound = np.zeros(0, dtype=np.int16)
        tail = np.zeros(int(1.2 * RATE), dtype=np.int16)
        x = np.concatenate([pause, sound, tail]).astype(np.float32) / 32768
        return to_int16(x + _noise(x, sound, self.p.habits.snr_db, rng))


def _keys(q: Question, truth: str | float | None) -> str:
    if q.type == AnswerType.YES_NO:
        return "1" if truth == "yes" else "2"
    if q.type == AnswerType.CHOICE:
        return next((k for k, v in q.keypad.items() if v == truth), "0")
    value = float(truth or 0)
    text = str(int(value)) if value == int(value) else str(value).replace(".", "*")
    return text + "#"


def _noise(x: np.ndarray, sound: np.ndarray, snr_db: float | None,
           rng: np.random.Generator) -> np.ndarray:
    """Room noise at `snr_db` below the speech, or a faint line hiss in a quiet room."""
    level = 10 ** (-60 / 20)
    if snr_db is not None and len(sound):
        speech_rms = float(np.sqrt(np.mean((sound.astype(np.float32) / 32768) ** 2)))
        level = speech_rms / 10 ** (snr_db / 20)
    return (rng.standard_normal(len(x)) * level).astype(np.float32)
