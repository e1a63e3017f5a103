"""The survey as data: questions, options, language phrases and risk rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

OPT_OUT_KEY = "9"  # on a keypad question, the key that asks never to be called again


class AnswerType(StrEnum):
    YES_NO = "yes_no"
    NUMBER = "number"
    CHOICE = "choice"


@dataclass(frozen=True, eq=False)  # hashed by identity: options are dicts
class Question:
    id: str
    type: AnswerType
    prompt: str
    when: str | None = None
    minimum: float = 0
    maximum: float = 0
    unit: str = ""
    decimals: bool = False
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    keypad: dict[str, str] = field(default_factory=dict)
    confirm: str = "auto"  # auto: read back low-confidence answers; always: every spoken one
    barge_in: bool = False  # an answer may cut the prompt short (default: yes for yes_no)
    input: str = "voice"  # voice (speech, the keypad as a fallback) or keypad (keys only)
    audio: str = ""  # a recording of the prompt (a WAV's full path), played instead of TTS
    line: int = 0

    @property
    def keys_only(self) -> bool:
        return self.input == "keypad"


@dataclass(frozen=True)
class Language:
    """Words and sentences the robot says and understands, per survey language."""

    code: str
    yes: tuple[str, ...]
    no: tuple[str, ...]
    repeat: tuple[str, ...]
    dont_know: tuple[str, ...]
    stop: tuple[str, ...]
    fillers: tuple[str, ...]
    reprompt: str
    keypad_yes_no: str
    keypad_number: str
    keypad_choice: str
    confirm: str
    goodbye_refused: str
    goodbye_opt_out: str
    closing: str
    voice: str
    rate: int
    voicemail: str = ""  # left on answering machines
    recording_notice: str = ""  # said first when the campaign records its calls
    input: str = "voice"  # keypad: every question answered with keys (no recognizer)
    keypad_opt_out: str = ""  # said at the start of a keypad survey ("press 9 to ...")
    # implicit confirmation (all three, or none: read-backs as before): an unsure answer
    # is said back at the start of the next question ("I heard no. If that is wrong,
    # say go back."), and a go-back phrase there asks the question again
    implied: str = ""  # with {value}
    go_back: tuple[str, ...] = ()
    asked_again: str = ""  # said before a question asked again after a go-back

    @property
    def implicit(self) -> bool:
        return bool(self.implied and self.go_back and self.asked_again)


@dataclass(frozen=True)
class RiskRule:
    colour: str
    when: str
    line: int = 0


@dataclass(frozen=True)
class Survey:
    name: str
    path: str
    greeting: str
    questions: tuple[Question, ...]
    language: Language
    risk: tuple[RiskRule, ...]
    risk_default: str = "green"
    # an office's recordings of any text the robot says (the greeting, a note, the
    # reprompt's words), by that text: WAV full paths, played instead of synthesis
    recordings: tuple[tuple[str, str], ...] = ()

    def recorded(self) -> dict[str, str]:
        """Every recording, by the text it says: the `recordings:` and the questions'."""
        return dict(self.recordings) | {q.prompt: q.audio for q in self.questions if q.audio}

    @property
    def keys_only(self) -> bool:
        """Every question is answered on the keypad: no speech recognizer is needed."""
        return all(q.keys_only for q in self.questions)

    def question(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(qid)
