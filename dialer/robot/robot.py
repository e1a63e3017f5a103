"""The survey robot's voice and ears: prompts synthesized once, a listener per process."""

from __future__ import annotations

from speech.audio import read_wav
from speech.channel import to_line
from speech.engines import ModelRef, make_recognizer
from speech.listener import Listener
from speech.recognizer import Grammar
from speech.tts import Synthesizer, Voice
from survey_scripts.model import Survey
from survey_scripts.prompts import PromptKind, every_prompt, implicit_prompts, opening
from survey_scripts.turns import Prompt

# A read-back's reply is decoded beside the garbage loop too (see bench/levers.py).
CONFIRM_GARBAGE = True


class Robot:
    """Models load once and serve many calls."""

    def __init__(self, survey: Survey, synth: Synthesizer, listener: Listener) -> None:
        self.survey = survey
        self.synth = synth
        self.listener = listener
        lang = survey.language
        self.voice = Voice.of(lang.voice, lang.rate)
        self._lines: dict[str, bytes] = {}
        # recorded prompts, by the text they replace: played through the same channel
        self._recorded = {text: to_line(read_wav(wav))
                          for text, wav in survey.recorded().items()}
        # espeak-ng carries state from one utterance to the next (its pitch flutter), so a
        # prompt's waveform would depend on what was said before it. Saying every prompt
        # once, in a fixed order, at start makes every process sound the same.
        for said in every_prompt(survey, implicit=False):
            self.say(said.text)
        self.say(lang.voicemail)
        self.say(opening(survey, notice=True))  # after the rest: their sound stays as it was
        for said in implicit_prompts(survey):
            self.say(said.text)

    def say(self, text: str) -> bytes:
        """The prompt as it goes down the line (8 kHz mu-law), made once per text: a
        question's recording where the office recorded it (after what is synthesized
        before it: the greeting, "Sorry, I did not catch that.")."""
        if text not in self._lines:
            self._lines[text] = self._made(text)
        return self._lines[text]

    def _made(self, text: str) -> bytes:
        """Recorded pieces where the text holds them (whole sentences), the rest said."""
        for said, recorded in self._recorded.items():
            head, found, tail = text.partition(said)
            if found and head[-1:] in ("", " ") and tail[:1] in ("", " "):
                return self._made(head.strip()) + recorded + self._made(tail.strip())
        return self._spoken(text)

    def _spoken(self, text: str) -> bytes:
        text = text.strip()
        return to_line(self.synth.speak(text, self.voice)) if text else b""

    def prompts(self) -> dict[str, bytes]:
        """Every prompt's line audio, by text (the recording notice's opening included)."""
        return {said.text: self.say(said.text)
                for said in every_prompt(self.survey, notice=True)}

    def grammar(self, prompt: Prompt) -> Grammar:
        assert prompt.listen is not None
        garbage = CONFIRM_GARBAGE or prompt.kind != PromptKind.CONFIRM
        return Grammar(prompt.listen.key, prompt.listen.phrases, self.survey.language.fillers,
                       garbage=garbage)

    def barge_in(self, prompt: Prompt) -> bool:
        """Whether speech may cut this prompt short: the question's setting (yes/no by
        default); a read-back or the keypad offer, always."""
        if prompt.kind in (PromptKind.CONFIRM, PromptKind.KEYPAD):
            return True
        if prompt.question_id is None:
            return False
        return self.survey.question(prompt.question_id).barge_in


def build_robot(survey: Survey, engine: ModelRef, synth: Synthesizer | None = None) -> Robot:
    return Robot(survey, synth or Synthesizer(), Listener(make_recognizer(engine)))
