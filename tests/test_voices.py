"""hibari's neural voice: a robot voice for English (only the voice inside its wheel:
nothing is downloaded), and a tenth of the simulated English callees."""

from __future__ import annotations

import numpy as np
import pytest

from dialer.lines.simulated import persona as personas
from dialer.lines.simulated.persona import HIBARI, make_persona
from speech.tts import Synthesizer, Voice
from survey_scripts.errors import EngineError
from survey_scripts.model import Survey


def test_hibari_speaks_with_its_bundled_voice_only() -> None:
    synth = Synthesizer()
    voice = Voice.of("hibari/heart", 165)
    assert voice == Voice("hibari", "heart", 165)
    said = synth.speak("Do you have a cough?", voice)
    assert said.rate == 24000 and 0.6 < said.seconds < 3.0
    assert np.abs(said.samples).max() > 3000
    again = Synthesizer().speak("Do you have a cough?", voice)
    assert np.array_equal(said.samples, again.samples)  # seeded: the same prompt, one sound
    with pytest.raises(EngineError, match="never downloads"):
        synth.speak("Hello.", Voice("hibari", "emma", 165))
    assert Voice.of("gmw/en-us+klatt3", 165).engine == "espeak"


def test_a_tenth_of_english_callees_speak_with_hibari_and_no_one_else_changed(
        survey: Survey, monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = range(1, 401)
    now = [make_persona(s, survey) for s in seeds]
    monkeypatch.setattr(personas, "HIBARI_SHARE", 0.0)
    before = [make_persona(s, survey) for s in seeds]
    changed = [(a, b) for a, b in zip(now, before, strict=True) if a.voice != b.voice]
    assert all(a.voice == HIBARI for a, _ in changed)
    assert 0.05 < len(changed) / len(now) < 0.15
    assert [a.truth for a in now] == [b.truth for b in before]  # the same people otherwise
